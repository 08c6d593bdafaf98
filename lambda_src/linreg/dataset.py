"""CSV stream → validated iris rows → features → train/test statistics.

The file is read in blocks of whole lines, so memory is bounded by the block size, not by
the file. Small inputs keep their rows and are split exactly as the tutorial splits them
(scikit-learn's ``train_test_split``); larger ones switch to a seeded per-row assignment
with the same test fraction and keep only sufficient statistics (``linreg.stats``).

Every problem a user can fix is raised as ``InputError`` with a stable code and a message
naming the column and line. Knows nothing of S3 or MXNet.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from linreg.errors import InputError
from linreg.spec import IRIS, Spec
from linreg.stats import Stats

# The default dataset's names, for callers that only ever see iris.
TARGET = IRIS.target
FEATURES = IRIS.features
REQUIRED_COLUMNS = IRIS.required
# A wider file is not what a spec describes; refusing it early keeps memory bounded.
MAX_COLUMNS = 100
GZIP_MAGIC = b"\x1f\x8b"
BLOCK_BYTES = 2 << 20
# A line this long is not a CSV row; stop before it fills memory.
MAX_LINE_BYTES = 1 << 20
# Up to this many rows the rows are kept (~50 MB) for the tutorial's exact split.
EXACT_SPLIT_MAX_ROWS = 1_000_000
EXACT, HASHED = "exact", "hashed"
# Each parsing thread holds a block and its parsed arrays (~8× the block in all).
MAX_THREADS = 4
# Blocks in flight per parsing thread: one parsing, one read and waiting its turn. Reading
# ahead reaches the end of the file sooner, so the exact split is made while the last
# blocks parse, and a thread that finishes never waits for the reader.
IN_FLIGHT = 2
# While blocks parse, the reading thread and the Python-level steps of pandas in the
# parsing threads take turns at the GIL. Python's default turn (5 ms) leaves the reader
# waiting, and the threads it feeds idle: with 1 ms the handler took a tenth less time at
# 1M rows; at 0.2 ms, switching itself cost more again.
SWITCH_INTERVAL_SECONDS = 0.001


@dataclass(frozen=True)
class Split:
    """All rows, as the blocks they were read in, and how they are cut. ``y`` is (n, 1),
    never (n,). The arrays are made on demand: only the tutorial engine needs them."""

    blocks: tuple[tuple[np.ndarray, np.ndarray], ...]  # (X, y) of each block, in file order
    train_index: np.ndarray
    test_index: np.ndarray

    @functools.cached_property
    def X(self) -> np.ndarray:
        return np.concatenate([X for X, _ in self.blocks])

    @functools.cached_property
    def y(self) -> np.ndarray:
        return np.concatenate([y for _, y in self.blocks])

    @property
    def X_train(self) -> np.ndarray:
        return self.X[self.train_index]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.train_index]

    @property
    def X_test(self) -> np.ndarray:
        return self.X[self.test_index]

    @property
    def y_test(self) -> np.ndarray:
        return self.y[self.test_index]


@dataclass(frozen=True)
class Dataset:
    """What training needs from a file: statistics of each part, and how they were cut."""

    train: Stats
    test: Stats
    split: str  # EXACT or HASHED
    rows: Split | None  # the rows themselves, kept for an exact split only
    ignored_columns: tuple[str, ...]
    warnings: tuple[str, ...]
    spec: Spec = IRIS

    @property
    def total_rows(self) -> int:
        return self.train.n + self.test.n


def load_bytes(data: bytes, **options) -> Dataset:
    return load(io.BytesIO(data), **options)


def load(
    stream: BinaryIO,
    *,
    spec: Spec = IRIS,
    test_size: float = 0.3,
    split_seed: int = 1,
    max_bytes: int | None = None,
    block_bytes: int = BLOCK_BYTES,
    exact_max_rows: int = EXACT_SPLIT_MAX_ROWS,
    threads: int | None = None,
) -> Dataset:
    """Read a CSV (plain or gzip) holding ``spec``'s columns from ``stream`` in one pass.

    Column order does not matter; extra columns are ignored. ``max_bytes`` bounds the
    uncompressed size (a small .gz can hold a huge file). Blocks are parsed on ``threads``
    threads (default: one per available core, at most ``MAX_THREADS``).
    """
    header, blocks = _split_header(_line_blocks(_plain(stream, max_bytes), block_bytes))
    _check_header(header, spec)
    columns = _Columns.of(header, spec)
    levels_seen = [set() for _ in spec.categorical]
    # One BLAS thread: the parsing threads have the cores, and idle OpenBLAS helper threads
    # would spin on them between the small products of each block's statistics.
    with (
        _blas().limit(limits=1, user_api="blas"),
        _switch_interval(SWITCH_INTERVAL_SECONDS),
        ThreadPoolExecutor(1, thread_name_prefix="split") as helper,
    ):
        parts = _Accumulator(
            test_size=test_size,
            seed=split_seed,
            exact_max_rows=exact_max_rows,
            spec=spec,
            helper=helper,
        )
        blocks = _telling_the_end(blocks, parts.expect)
        for X, y, codes in _parsed_blocks(blocks, columns, threads or default_threads()):
            for seen, (_, levels), column_codes in zip(
                levels_seen, spec.categorical, codes.T, strict=True
            ):
                seen.update(np.flatnonzero(np.bincount(column_codes, minlength=len(levels))))
            parts.add(X, y)
        if parts.rows == 0:
            raise InputError("no_data", "the file has a header but no data rows")
        return parts.finish(
            ignored_columns=tuple(name for name in header if name not in spec.required),
            warnings=_level_warnings(spec, levels_seen),
        )


@functools.cache
def _blas() -> ThreadpoolController:
    # Made once: finding the loaded BLAS libraries takes milliseconds, limiting them not.
    return ThreadpoolController()


@contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    """The interpreter's thread switch interval (process-wide) set for the duration."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def default_threads() -> int:
    """One parsing thread per core this process may run on, at most ``MAX_THREADS``."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_THREADS))


def predictors(frame: pd.DataFrame, spec: Spec = IRIS) -> np.ndarray:
    """The design matrix of rows to predict on: a text frame (cells as read, index = line
    numbers) that has the feature columns; the target column may be absent."""
    needed = [name for name in spec.required if name != spec.target]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InputError("missing_columns", f"missing column(s): {', '.join(missing)}")
    numbers = [_numbers(frame[name].str.strip(), name) for name in spec.numeric]
    return _design(numbers, _all_levels(frame, spec), spec)


def split(
    rows: int, *, n_features: int, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions as scikit-learn's ``train_test_split`` cuts a frame of
    ``rows`` rows, as the tutorial splits its frame."""
    from sklearn.model_selection import ShuffleSplit

    needed = _min_rows(test_size, n_features)
    if rows < needed:
        raise InputError(
            "too_few_rows",
            f"{rows} data rows is too few: with a {test_size:g} test fraction and "
            f"{n_features} features at least {needed} rows are needed",
        )
    # The splitter train_test_split uses inside, and the very same indices, without
    # train_test_split's copies of them.
    splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    return next(splitter.split(np.empty((rows, 0))))


def hashed_test_rows(rows: np.ndarray, *, seed: int, test_size: float) -> np.ndarray:
    """Which rows (by 0-based position in the file) are test rows, for large inputs.

    A splitmix64 hash of (position, seed) is uniform on [0, 1): the assignment is seeded,
    needs no row count in advance, and does not depend on how the file was cut into blocks.
    """
    offset = np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)  # Python ints: no overflow warning
    x = rows.astype(np.uint64) + offset
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)) < np.uint64(int(test_size * 2**53))


class _Accumulator:
    """Statistics of all rows, block by block as they arrive (while later blocks are still
    being parsed); the rows themselves while they are few enough for the exact split, and
    hashed test-row statistics after that. Train = all − test: one copy of the smaller part."""

    def __init__(
        self,
        *,
        test_size: float,
        seed: int,
        exact_max_rows: int,
        spec: Spec,
        helper: ThreadPoolExecutor,
    ) -> None:
        self.test_size, self.seed, self.exact_max_rows = test_size, seed, exact_max_rows
        self.spec, self.helper = spec, helper
        self.kept: list[tuple[np.ndarray, np.ndarray]] | None = []
        self.rows = 0
        self.total = self.hashed_test = Stats.zero(len(spec.features))
        self.early_split: tuple[int, Future] | None = None

    def expect(self, rows: int) -> None:
        """The whole file has been read: it holds ``rows`` data rows unless some lines are
        blank. Start the exact split for that many now, and count the test rows of the
        blocks added so far, on the helper thread while the last blocks are still parsing;
        ``finish`` uses that if the guess was right."""
        if self.kept is not None and rows <= self.exact_max_rows:
            added = list(self.kept)  # the blocks still parsing are counted by finish
            self.early_split = rows, self.helper.submit(self._exact_cut, rows, added)

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        self.total += Stats.of(X, y)
        if self.kept is not None and self.rows + len(X) > self.exact_max_rows:
            # Too many to keep: take the kept rows' test part and stream from here on.
            first_row = 0
            for kept_X, kept_y in self.kept:
                self.hashed_test += self._hashed_test(kept_X, kept_y, first_row)
                first_row += len(kept_X)
            self.kept = None
        if self.kept is not None:
            self.kept.append((X, y))
        else:
            self.hashed_test += self._hashed_test(X, y, self.rows)
        self.rows += len(X)

    def _hashed_test(self, X: np.ndarray, y: np.ndarray, first_row: int) -> Stats:
        positions = np.arange(first_row, first_row + len(X))
        test = hashed_test_rows(positions, seed=self.seed, test_size=self.test_size)
        return Stats.of(X[test], y[test])

    def finish(self, **notes: tuple[str, ...]) -> Dataset:
        if self.kept is None:
            return self._dataset(self.hashed_test, HASHED, None, **notes)
        guess, early = self.early_split or (None, None)
        cut = early.result() if guess == self.rows else self._exact_cut(self.rows, [])
        cut = cut.counting(self.kept[cut.blocks :])
        rows = Split(
            blocks=tuple(self.kept), train_index=cut.train_index, test_index=cut.test_index
        )
        return self._dataset(cut.test, EXACT, rows, **notes)

    def _exact_cut(self, rows: int, blocks: list[tuple[np.ndarray, np.ndarray]]) -> _ExactCut:
        train_index, test_index = split(
            rows, n_features=len(self.spec.features), test_size=self.test_size, seed=self.seed
        )
        # A mask reads each block's test rows in file order, far faster than gathering
        # them by index.
        test_rows = np.zeros(rows, dtype=bool)
        test_rows[test_index] = True
        none_counted = _ExactCut(
            train_index, test_index, test_rows, Stats.zero(len(self.spec.features)), 0, 0
        )
        return none_counted.counting(blocks)

    def _dataset(self, test: Stats, how: str, rows: Split | None, **notes) -> Dataset:
        return Dataset(
            train=self.total - test, test=test, split=how, rows=rows, spec=self.spec, **notes
        )


@dataclass(frozen=True)
class _ExactCut:
    """scikit-learn's split of the whole file, and the test statistics of its first
    ``blocks`` blocks (``rows`` rows) under it."""

    train_index: np.ndarray
    test_index: np.ndarray
    test_rows: np.ndarray  # True for each test row, by position in the file
    test: Stats
    blocks: int
    rows: int

    def counting(self, blocks: list[tuple[np.ndarray, np.ndarray]]) -> _ExactCut:
        """This cut with the test rows of ``blocks``, the file's next blocks, counted too."""
        test, first_row = self.test, self.rows
        for X, y in blocks:
            mask = self.test_rows[first_row : first_row + len(X)]
            test += Stats.of(X[mask], y[mask])
            first_row += len(X)
        return replace(self, test=test, blocks=self.blocks + len(blocks), rows=first_row)


# --- reading: bytes → whole-line blocks → header → validated arrays ----------------------


def _parsed_blocks(
    blocks: Iterator[tuple[bytes, int]], columns: _Columns, threads: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each block parsed, in file order, the first problem in the file raised first.

    pandas tokenizes and converts numbers without holding the GIL, so blocks parse in
    parallel on several cores while this thread reads the next ones. At most
    ``IN_FLIGHT × threads`` blocks are in flight: memory stays bounded by the block size.
    """
    if threads == 1:
        for block, first_line in blocks:
            yield _parse_block(block, first_line, columns)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="parse") as pool:
        pending: deque[Future] = deque()
        while True:
            try:
                block, first_line = next(blocks)
            except StopIteration:
                break
            except InputError:
                # Sequentially, the blocks before a damaged stream would be parsed first.
                for future in pending:
                    future.result()
                raise
            pending.append(pool.submit(_parse_block, block, first_line, columns))
            if len(pending) == IN_FLIGHT * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _telling_the_end(
    blocks: Iterator[tuple[bytes, int]], expect: Callable[[int], None]
) -> Iterator[tuple[bytes, int]]:
    """``blocks`` as they come; once the last is out, ``expect`` gets the number of data
    lines, before the blocks still in flight are parsed."""
    last = None
    for last in blocks:
        yield last
    if last is not None:
        block, first_line = last
        unterminated = not block.endswith((b"\n", b"\r"))
        expect(first_line - 2 + _count_lines(block) + unterminated)


def _plain(stream: BinaryIO, max_bytes: int | None) -> BinaryIO:
    """The uncompressed bytes of ``stream``, however it arrived, at most ``max_bytes``."""
    head = stream.read(2)
    stream = _Joined(head, stream)
    if head == GZIP_MAGIC:
        stream = _Gunzipped(stream)
    return _Limited(stream, max_bytes) if max_bytes is not None else stream


def _line_blocks(stream: BinaryIO, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines, each with the file line number (from 1) it starts at."""
    carry, line = b"", 1
    while True:
        chunk = stream.read(block_bytes)
        data = carry + chunk
        if not chunk:
            if data:
                yield data, line
            return
        cut = max(data.rfind(b"\n"), -1 if b"\n" in data else data.rfind(b"\r"))
        if cut < 0:
            if len(data) > MAX_LINE_BYTES:
                raise InputError(
                    "malformed_csv", f"line {line} is longer than {MAX_LINE_BYTES:,} bytes"
                )
            carry = data
            continue
        block, carry = data[: cut + 1], data[cut + 1 :]
        yield block, line
        line += _count_lines(block)


def _count_lines(block: bytes) -> int:
    # numpy counts a byte three times faster than bytes.count.
    codes = np.frombuffer(block, dtype=np.uint8)
    return int(np.count_nonzero(codes == ord("\n")) or np.count_nonzero(codes == ord("\r")))


def _split_header(
    blocks: Iterator[tuple[bytes, int]],
) -> tuple[list[str], Iterator[tuple[bytes, int]]]:
    """The header line's column names, and the blocks of data lines after it."""
    first = next(blocks, None)
    # Spreadsheet exports often start with a UTF-8 byte-order mark.
    block = b"" if first is None else first[0].removeprefix(b"\xef\xbb\xbf")
    if not block.strip():
        raise InputError("empty_file", "the file is empty")
    line_end = re.search(rb"\r\n|\r|\n", block)
    end = line_end.end() if line_end else len(block)
    try:
        fields = next(csv.reader([_text(block[:end], 1).rstrip("\r\n")]), [])
    except csv.Error as error:
        raise InputError("malformed_csv", f"the header line is not valid CSV: {error}") from None
    header = [name.strip() for name in fields]

    def data_blocks() -> Iterator[tuple[bytes, int]]:
        if block[end:]:
            yield block[end:], 2
        yield from blocks

    return header, data_blocks()


def _check_header(header: list[str], spec: Spec) -> None:
    if len(header) > MAX_COLUMNS:
        raise InputError(
            "too_many_columns", f"the file has {len(header)} columns; at most {MAX_COLUMNS} allowed"
        )
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        raise InputError("duplicate_columns", f"duplicate column(s): {', '.join(duplicates)}")
    missing = [name for name in spec.required if name not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file seems to use another delimiter; columns must be comma-separated)"
        raise InputError(
            "missing_columns",
            f"missing column(s): {', '.join(missing)}; expected a header with "
            f"{','.join(spec.required)}{hint}",
        )


@dataclass(frozen=True)
class _Columns:
    """Where the spec's columns sit in each row, and how many fields a row has."""

    width: int
    positions: dict[str, int]
    spec: Spec

    @classmethod
    def of(cls, header: list[str], spec: Spec) -> _Columns:
        positions = {name: header.index(name) for name in spec.required}
        return cls(width=len(header), positions=positions, spec=spec)


def _parse_block(
    block: bytes, first_line: int, columns: _Columns
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features X (m, features), target y (m, 1) and level codes (m, categorical columns)
    of one block's rows.

    A fast typed parse handles clean blocks; anything doubtful (a blank line, a blank,
    non-numeric or non-finite cell, an unknown level) goes through the careful text
    parse, which skips blank lines and names the exact cell to fix.
    """
    try:
        fast = _fast_parse(block, columns)
    except pd.errors.ParserError as error:
        raise _malformed(error, first_line) from None
    except UnicodeDecodeError:
        raise _not_utf8(first_line) from None
    except (ValueError, TypeError):
        fast = None
    if fast is not None:
        return fast
    return _careful_parse(block, first_line, columns)


def _design(numbers: list[np.ndarray], codes: np.ndarray, spec: Spec) -> np.ndarray:
    """The design matrix from the numeric feature columns and the level codes: numeric
    features, then a 0/1 column per non-baseline level."""
    # Column-major: every column is written, and later summed, as one contiguous run,
    # several times faster than across rows of five numbers.
    X = np.empty((len(codes), len(spec.features)), order="F")
    for column, values in enumerate(numbers):
        X[:, column] = values
    column = len(numbers)
    for index, (_, levels) in enumerate(spec.categorical):
        for level in range(len(levels) - 1):
            X[:, column] = codes[:, index] == level
            column += 1
    return X


def _read(block: bytes, columns: _Columns, **options) -> pd.DataFrame:
    """One block as a frame whose columns are numbered by position in the header."""
    # No usecols: it would silently accept rows with more fields than the header.
    return pd.read_csv(
        io.BytesIO(block),
        header=None,
        names=range(columns.width),
        skip_blank_lines=False,  # so that row labels stay line numbers
        index_col=False,
        encoding="utf-8",
        # A block is bounded already: parse it in one go, not in pandas' smaller pieces
        # joined afterwards, which costs a third more.
        low_memory=False,
        **options,
    )


def _fast_parse(
    block: bytes, columns: _Columns
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Numbers as float64, levels as categories, straight into X and y: about as fast as
    pandas reads a CSV. ``None`` when the block needs the careful parse."""
    spec, position = columns.spec, columns.positions
    dtypes = {position[name]: np.float64 for name in (spec.target, *spec.numeric)}
    dtypes.update({position[column]: "category" for column, _ in spec.categorical})
    # No NA detection: a blank or "NaN" cell makes the float conversion fail (ValueError),
    # which sends the block to the careful parse; skipping it saves a quarter of the time.
    frame = _read(block, columns, dtype=dtypes, na_filter=False)
    codes = _code_matrix(
        len(frame),
        [
            _level_codes(frame[position[column]], levels, spec.level_prefix)
            for column, levels in spec.categorical
        ],
    )
    numbers = [frame[position[name]].to_numpy() for name in (spec.target, *spec.numeric)]
    # Infinities fail isfinite; codes < 0 are blanks or unknown levels.
    if not all(np.isfinite(column).all() for column in numbers) or (codes < 0).any():
        return None
    return _design(numbers[1:], codes, spec), numbers[0].reshape(-1, 1), codes


def _level_codes(column: pd.Series, levels: tuple[str, ...], prefix: str) -> np.ndarray:
    """Each cell's level index; -1 for other text or a blank."""
    names = _normalize(column.cat.categories.astype(str).to_series(), prefix)
    known = [levels.index(name) if name in levels else -1 for name in names]
    lookup = np.array([*known, -1], dtype=np.int16)
    # cat.codes is -1 for a blank cell, which indexes the lookup's last entry.
    return lookup[column.cat.codes.to_numpy()]


def _normalize(names: pd.Series, prefix: str) -> pd.Series:
    # Any letter case, surrounding spaces, and the spec's optional prefix ("Iris-setosa").
    names = names.str.strip().str.lower()
    return names.str.removeprefix(prefix.lower()) if prefix else names


def _careful_parse(
    block: bytes, first_line: int, columns: _Columns
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Everything as text, blanks kept as "": the first bad cell is reported by name and line."""
    spec = columns.spec
    try:
        frame = _read(block, columns, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise _malformed(error, first_line) from None
    except UnicodeDecodeError:
        raise _not_utf8(first_line) from None
    frame = frame[[columns.positions[name] for name in spec.required]]
    frame = frame.set_axis(spec.required, axis=1).fillna("")  # short rows give NaN
    frame.index = frame.index + first_line
    frame = frame[(frame != "").any(axis=1)]
    y = _numbers(frame[spec.target].str.strip(), spec.target).reshape(-1, 1)
    numbers = [_numbers(frame[name].str.strip(), name) for name in spec.numeric]
    codes = _all_levels(frame, spec)
    return _design(numbers, codes, spec), y, codes


def _all_levels(frame: pd.DataFrame, spec: Spec) -> np.ndarray:
    codes = [_levels(frame[column], column, spec) for column, _ in spec.categorical]
    return _code_matrix(len(frame), codes)


def _code_matrix(rows: int, codes: list[np.ndarray]) -> np.ndarray:
    """Each categorical column's level codes side by side, (rows, 0) when there are none.
    Small integers, written in place: every array made per block is memory the kernel
    must map afresh, a cost on the order of parsing itself."""
    matrix = np.empty((rows, len(codes)), dtype=np.int16)
    for index, column_codes in enumerate(codes):
        matrix[:, index] = column_codes
    return matrix


def _numbers(cells: pd.Series, column: str) -> np.ndarray:
    _check_no_blanks(cells, column)
    values = pd.to_numeric(cells, errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        raise InputError(
            "non_numeric",
            f"column {column}, line {cells.index[bad.argmax()]}: {cells[bad].iloc[0]!r} "
            "is not a finite number",
        )
    return values.to_numpy(dtype=np.float64)


def _levels(cells: pd.Series, column: str, spec: Spec) -> np.ndarray:
    levels = dict(spec.categorical)[column]
    cells = cells.str.strip()
    _check_no_blanks(cells, column)
    names = _normalize(cells, spec.level_prefix)
    unknown = ~names.isin(levels)
    if unknown.any():
        raise InputError(
            spec.unknown_level_code,
            f"column {column}, line {cells.index[unknown.argmax()]}: "
            f"{cells[unknown].iloc[0]!r} is not one of {', '.join(levels)}",
        )
    return names.map(levels.index).to_numpy(dtype=np.int64)


def _check_no_blanks(cells: pd.Series, column: str) -> None:
    blank = cells == ""
    if blank.any():
        raise InputError(
            "missing_value",
            f"column {column}, line {cells.index[blank.argmax()]}: the value is blank",
        )


def _malformed(error: pd.errors.ParserError, first_line: int) -> InputError:
    # pandas counts lines from 1 within the block it was given; say the file's line.
    detail = str(error).replace("Error tokenizing data. C error: ", "").strip()
    detail = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + first_line - 1}", detail)
    return InputError("malformed_csv", f"the file is not valid CSV: {detail}")


def _not_utf8(first_line: int) -> InputError:
    return InputError(
        "bad_encoding",
        f"the file is not UTF-8 text (at or after line {first_line}); export it as UTF-8 CSV",
    )


def _text(line: bytes, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(number) from None


def _min_rows(test_size: float, n_features: int) -> int:
    """Fewest rows giving one test row and a train set with a row per parameter."""
    rows = 2
    while rows - math.ceil(test_size * rows) < n_features + 1:
        rows += 1
    return rows


def _level_warnings(spec: Spec, seen: list[set[int]]) -> tuple[str, ...]:
    warnings = []
    for (column, levels), codes in zip(spec.categorical, seen, strict=True):
        if len(codes) < len(levels):
            present = ", ".join(levels[code] for code in sorted(codes))
            warnings.append(
                f"only {present} present in column {column}: its indicator columns are "
                "constant, so the model cannot tell its levels apart"
            )
    return tuple(warnings)


# --- streams -----------------------------------------------------------------------------


class _Joined:
    """``head`` (already read) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(size)
        if size < 0:
            data, self.head = self.head + self.stream.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        return data + (self.stream.read(size - len(data)) if len(data) < size else b"")


class _Gunzipped:
    """Decompresses on the fly; damage in the gzip data is the user's to fix."""

    def __init__(self, stream: BinaryIO) -> None:
        self.file = gzip.GzipFile(fileobj=stream, mode="rb")

    def read(self, size: int = -1) -> bytes:
        try:
            return self.file.read(size)
        except EOFError:
            raise InputError("bad_gzip", "the gzip data is truncated") from None
        except (OSError, zlib.error) as error:
            raise InputError(
                "bad_gzip", f"the file looks gzip-compressed but is damaged: {error}"
            ) from None


class _Limited:
    """Refuses to deliver more than ``limit`` bytes: a small .gz can unpack to a huge file."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.limit, self.delivered = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.delivered += len(data)
        if self.delivered > self.limit:
            raise InputError(
                "too_large",
                f"the file uncompresses to more than {self.limit:,} bytes (LINREG_MAX_INPUT_BYTES)",
            )
        return data
