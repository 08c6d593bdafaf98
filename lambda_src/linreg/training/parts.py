"""One file cut into byte ranges (or a dataset of part files), trained from the parts'
sufficient statistics: the cut, a part's statistics as JSON, and their sum.

Training needs only AᵀA, Aᵀy, yᵀy and n of each side of the split, and those add up: each
part computes its own, and the sum is what one pass over the whole file would have given.
The hashed split keys on each row's values, so a row lands on the same side whichever part
reads it. Knows nothing of S3 or of the state machine that runs the parts.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from linreg.contract import MAX_INPUT_BYTES_ENV
from linreg.errors import InputError, RunError
from linreg.payloads import PartResult
from linreg.spec import Spec
from linreg.training.data import (
    Dataset,
    PartStatistics,
    SplitKind,
    TestSample,
    check_sides,
    level_warnings,
)
from linreg.training.stats import Stats


def byte_ranges(data_start: int, size: int, part_bytes: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of at most ``part_bytes`` that tile ``[data_start, size)``."""
    starts = range(data_start, size, part_bytes)
    return [(start, min(start + part_bytes, size)) for start in starts] or [(data_start, size)]


def part_result(index: int, statistics: PartStatistics) -> PartResult:
    """A part's statistics as JSON (floats written exactly, as repr does)."""
    return {
        "index": index,
        "lines": statistics.lines,
        "bytes": statistics.bytes,
        "train": _stats_json(statistics.train),
        "test": _stats_json(statistics.test),
        # Its share of the report's test-row sample: the reduce keeps the whole file's.
        "test_sample": {
            "X": statistics.test_sample.X.tolist(),
            "y": statistics.test_sample.y.reshape(-1).tolist(),
        },
        "levels_seen": [sorted(int(code) for code in seen) for seen in statistics.levels_seen],
        "error": None,
    }


def part_failure(index: int, lines: int, error: RunError) -> PartResult:
    """A part that met a problem in its input: the run ends with it, as one pass would."""
    return {"index": index, "lines": lines, "error": error.as_dict()}


def reduce(
    results: Iterable[PartResult],
    *,
    parts: int,
    header: list[str],
    spec: Spec,
    test_size: float,
    test_sample: TestSample,
    max_bytes: int | None = None,
) -> Dataset:
    """The whole file's statistics from its parts' results (one per part, in any order),
    and ``test_sample``, their samples of test rows as ``merge_sample`` merged them.

    Refuses to go on unless every part is there. A part's problem is the file's: the first
    part with one (in file order) ends the run, its line numbers counted in the whole file.
    The parts' data may hold ``max_bytes`` in all, uncompressed, as one upload may.
    """
    by_index = {result["index"]: result for result in results}
    missing = sorted(set(range(parts)) - set(by_index))
    if missing:
        raise RuntimeError(f"parts {missing[:10]} of {parts} have no statistics; not training")
    ordered = [by_index[index] for index in range(parts)]
    files = {result.get("key") for result in ordered}
    lines_before, file = 0, None
    for result in ordered:
        if result.get("key") != file:  # each part file counts its own lines
            lines_before, file = 0, result.get("key")
        if result["error"] is not None:
            error = _in_the_file(result["error"], lines_before)
            if len(files) > 1:
                error = InputError(error.code, f"in {file}: {error.message}", error.details)
            raise error
        lines_before += result["lines"]
    read = sum(result.get("bytes", 0) for result in ordered)
    if max_bytes is not None and read > max_bytes:
        raise InputError(
            "too_large",
            f"the parts uncompress to {read:,} bytes in all; the limit is {max_bytes:,} "
            f"({MAX_INPUT_BYTES_ENV})",
        )
    train = _sum(result["train"] for result in ordered)
    test = _sum(result["test"] for result in ordered)
    if train.n + test.n == 0:
        raise InputError("no_data", "the file has a header but no data rows")
    check_sides(train.n, test.n, len(spec.features), test_size)
    seen: list[set[int]] = [set() for _ in spec.categorical]
    for result in ordered:
        for column, codes in zip(seen, result["levels_seen"], strict=True):
            column.update(codes)
    return Dataset(
        train=train,
        test=test,
        split_kind=SplitKind.HASHED,
        rows=None,
        ignored_columns=tuple(name for name in header if name not in spec.required),
        warnings=level_warnings(spec, seen),
        test_sample=test_sample,
        spec=spec,
    )


def _in_the_file(error: dict, lines_before: int) -> RunError:
    # A part numbers its lines from 1; in the file, its first line follows the header and
    # the lines of the parts before it.
    return InputError(**error).shifted(1 + lines_before)


def merge_sample(sample: TestSample, result: PartResult, seed: int) -> TestSample:
    """``sample`` with one part's sample of test rows merged in, which it then drops from
    ``result``: merged over all parts, what one pass over the file would have drawn. A part
    written by an older version has none."""
    rows = result.pop("test_sample", None) or {"X": [], "y": []}
    n_features = sample.X.shape[1]
    X = np.array(rows["X"], dtype=np.float64).reshape(-1, n_features)
    part = TestSample.of(X, np.array(rows["y"], dtype=np.float64), seed=seed)
    return sample.merged(part.X, part.y, part.hashes)


def _stats_json(stats: Stats) -> dict:
    return {
        "gram": stats.gram.tolist(),
        "moment": stats.moment.tolist(),
        "yy": stats.yy,
        "n": stats.n,
    }


def _sum(documents: Iterable[dict]) -> Stats:
    total: Stats | None = None
    for document in documents:
        stats = Stats(
            gram=np.array(document["gram"], dtype=np.float64),
            moment=np.array(document["moment"], dtype=np.float64),
            yy=float(document["yy"]),
            n=int(document["n"]),
        )
        total = stats if total is None else total + stats
    if total is None:
        raise ValueError("no part statistics to sum")
    return total
