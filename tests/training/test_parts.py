"""A file cut into byte ranges and trained from its parts' statistics gives what one pass
over the whole file gives: the same rows, the same split and the same model."""

import gzip
import io

import numpy as np
import pytest

from helpers import iris_like, with_bad_cell
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.errors import InputError
from linreg.spec import IRIS
from linreg.training import parts
from linreg.training.data import TestSample, load_bytes, load_part
from linreg.training.data.stream import (
    line_blocks,
    line_terminator,
    owned_lines,
    plain,
    split_header,
    whole_file_lines,
)

EXACT_MAX_ROWS = 1000  # the file is "large": one pass splits it by the hashed split too


def parts_of(data: bytes, part_bytes: int, max_bytes: int | None = None) -> list[dict]:
    """Each byte range's result, as the parts of a distributed run compute them."""
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    line_end = line_terminator(data)
    data_start = data.index(line_end) + 1
    results = []
    for index, (start, end) in enumerate(parts.byte_ranges(data_start, len(data), part_bytes)):
        stream = io.BytesIO(data[start - 1 :])
        chunks = owned_lines(stream, start, end, block_bytes=4096, line_end=line_end)
        try:
            statistics = load_part(chunks, header, max_bytes=max_bytes)
            results.append(parts.part_result(index, statistics))
        except InputError as error:
            results.append(parts.part_failure(index, 0, error))
    return results


def reduced(data: bytes, part_bytes: int):
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    results = parts_of(data, part_bytes)
    sample = TestSample.empty(len(IRIS.features))
    for result in results:
        sample = parts.merge_sample(sample, result, seed=1)
    return parts.reduce(
        results, parts=len(results), header=header, spec=IRIS, test_size=0.3, test_sample=sample
    )


@pytest.mark.parametrize("part_bytes", [1 << 12, 50_000, 1 << 20])
@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_parts_sum_to_the_statistics_of_one_pass(part_bytes, ending):
    data = iris_like(20_000).replace(b"\n", ending)
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

    assert from_parts.value.as_dict() == one_pass.value.as_dict()
    assert "line 4000" in from_parts.value.message


def test_a_bad_cell_reading_line_n_keeps_its_text_when_its_part_is_counted_in_the_file():
    lines = iris_like(5000).splitlines(keepends=True)
    lines[3999] = b"5.0,3.1,line 5,0.2,setosa\n"  # line 4000, in a later part

    with pytest.raises(InputError) as from_parts:
        reduced(b"".join(lines), 1 << 14)

    assert from_parts.value.message == (
        "column petal_length, line 4000: 'line 5' is not a finite number"
    )
    assert from_parts.value.details == {"line": 4000}


def test_a_missing_part_stops_the_reduce():
    data = iris_like(5000)
    header, _ = split_header(line_blocks(io.BytesIO(data)))
    results = parts_of(data, 1 << 14)

    with pytest.raises(RuntimeError, match="no statistics"):
        parts.reduce(
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
    sample = parts.merge_sample(TestSample.empty(5), result, seed=1)
    assert len(sample) == 0


def test_the_parts_count_the_data_bytes_they_read():
    data = iris_like(5000)
    header_line = data.index(b"\n") + 1

    results = parts_of(data, 1 << 14)

    assert len(results) > 1
    assert sum(result["bytes"] for result in results) == len(data) - header_line


def test_a_part_with_more_data_than_its_bound_is_too_large():
    results = parts_of(iris_like(5000), 1 << 14, max_bytes=1000)

    assert results[0]["error"]["code"] == "too_large"


def whole_file_part(compressed: bytes, max_bytes: int | None = None):
    """A .csv.gz read whole as one part, the limit given to ``plain``."""
    header, _ = split_header(line_blocks(plain(io.BytesIO(compressed), None)))
    return load_part(whole_file_lines(plain(io.BytesIO(compressed), max_bytes)), header)


def test_a_whole_gzip_file_part_counts_its_uncompressed_data_bytes():
    data = iris_like(5000)

    statistics = whole_file_part(gzip.compress(data), max_bytes=len(data))

    assert statistics.bytes == len(data) - (data.index(b"\n") + 1)


@pytest.mark.slow
def test_a_whole_gzip_file_part_that_uncompresses_past_the_limit_is_too_large():
    data = iris_like(200_000)  # a few blocks: the limit falls after the header's block
    assert len(data) > 2 * (2 << 20)

    with pytest.raises(InputError) as caught:
        whole_file_part(gzip.compress(data), max_bytes=len(data) - 1)

    assert caught.value.code == "too_large"


def test_a_whole_gzip_file_part_names_a_too_long_line_as_one_pass_does():
    lines = iris_like(100).splitlines(keepends=True)
    compressed = gzip.compress(b"".join(lines[:4]) + b"x" * (8 << 20))  # line 5
    with pytest.raises(InputError) as one_pass:
        load_bytes(compressed)
    with pytest.raises(InputError) as in_the_part:
        whole_file_part(compressed)

    with pytest.raises(InputError) as from_parts:
        parts.reduce(
            [parts.part_failure(0, 0, in_the_part.value)],
            parts=1,
            header=list(IRIS.required),
            spec=IRIS,
            test_size=0.3,
            test_sample=TestSample.empty(len(IRIS.features)),
        )

    assert from_parts.value.as_dict() == one_pass.value.as_dict()
    assert "line 5" in from_parts.value.message
