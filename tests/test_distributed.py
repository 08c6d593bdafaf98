"""A file cut into byte ranges and trained from its parts' statistics gives what one pass
over the whole file gives: the same rows, the same split and the same model."""

import io

import numpy as np
import pytest

from helpers import iris_like, with_bad_cell
from linreg import distributed, pipeline
from linreg.config import Hyperparameters
from linreg.data import TestSample, load_bytes, load_part
from linreg.data.stream import line_blocks, owned_lines, split_header
from linreg.errors import InputError
from linreg.spec import IRIS

EXACT_MAX_ROWS = 1000  # the file is "large": one pass splits it by the hashed split too


def parts_of(data: bytes, part_bytes: int) -> list[dict]:
    """Each byte range's result, as the parts of a distributed run compute them."""
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    data_start = data.index(b"\n") + 1
    results = []
    for index, (start, end) in enumerate(
        distributed.byte_ranges(data_start, len(data), part_bytes)
    ):
        chunks = owned_lines(io.BytesIO(data[start - 1 :]), start, end, block_bytes=4096)
        try:
            results.append(distributed.part_result(index, load_part(chunks, header)))
        except InputError as error:
            results.append(distributed.part_failure(index, 0, error))
    return results


def reduced(data: bytes, part_bytes: int):
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    results = parts_of(data, part_bytes)
    sample = TestSample.empty(len(IRIS.features))
    for result in results:
        sample = distributed.merge_sample(sample, result, seed=1)
    return distributed.reduce(
        results, parts=len(results), header=header, spec=IRIS, test_size=0.3, test_sample=sample
    )


@pytest.mark.parametrize("part_bytes", [1 << 12, 50_000, 1 << 20])
def test_parts_sum_to_the_statistics_of_one_pass(part_bytes):
    data = iris_like(20_000)
    whole = load_bytes(data, exact_max_rows=EXACT_MAX_ROWS)

    summed = reduced(data, part_bytes)

    assert (summed.train.n, summed.test.n) == (whole.train.n, whole.test.n)
    np.testing.assert_allclose(summed.train.gram, whole.train.gram, rtol=1e-12)
    np.testing.assert_allclose(summed.test.moment, whole.test.moment, rtol=1e-12)


def test_a_model_trained_from_parts_is_the_one_pass_model():
    data = iris_like(20_000)
    hyperparameters = Hyperparameters()
    one_pass = pipeline.train(load_bytes(data, exact_max_rows=EXACT_MAX_ROWS), hyperparameters)

    from_parts = pipeline.train(reduced(data, 1 << 14), hyperparameters)

    ours, theirs = from_parts.report["params"], one_pass.report["params"]
    np.testing.assert_allclose(
        list(ours["weights"].values()), list(theirs["weights"].values()), rtol=1e-9
    )
    assert ours["bias"] == pytest.approx(theirs["bias"], rel=1e-9)


def test_a_bad_row_in_one_part_ends_the_run_as_one_pass_would():
    data = with_bad_cell(iris_like(5000), 4000)
    with pytest.raises(InputError) as one_pass:
        load_bytes(data, exact_max_rows=EXACT_MAX_ROWS)

    with pytest.raises(InputError) as from_parts:
        reduced(data, 1 << 14)

    assert (from_parts.value.code, from_parts.value.message) == (
        one_pass.value.code,
        one_pass.value.message,
    )
    assert "line 4000" in from_parts.value.message


def test_a_missing_part_stops_the_reduce():
    data = iris_like(5000)
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    results = parts_of(data, 1 << 14)

    with pytest.raises(RuntimeError, match="no statistics"):
        distributed.reduce(
            results[:-1],
            parts=len(results),
            header=header,
            spec=IRIS,
            test_size=0.3,
            test_sample=TestSample.empty(5),
        )


def test_the_parts_draw_the_sample_of_test_rows_one_pass_draws():
    data = iris_like(30000, seed=8)
    one_pass = load_bytes(data, exact_max_rows=EXACT_MAX_ROWS).test_sample
    from_parts = reduced(data, 1 << 16).test_sample
    np.testing.assert_array_equal(from_parts.X, one_pass.X)
    np.testing.assert_array_equal(from_parts.y, one_pass.y)


def test_a_part_written_without_a_sample_merges_as_an_empty_one():
    # A part computed by the previous image, during a deploy.
    result = parts_of(iris_like(3000, seed=9), 1 << 20)[0]
    del result["test_sample"]
    sample = distributed.merge_sample(TestSample.empty(5), result, seed=1)
    assert len(sample) == 0
