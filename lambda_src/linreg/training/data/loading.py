"""Loading a CSV stream in one pass: ``load`` for a whole file, ``load_part`` for one part.

Blocks of whole lines (``stream``) are parsed and validated (``parse``) on a few threads
while the next ones are read, and each is added to the running statistics of the split
(``split``). Memory is bounded by the block size, not by the file. Knows nothing of S3 or
MXNet.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from linreg import cpus
from linreg.deadline import Deadline
from linreg.errors import InputError, RunError
from linreg.spec import IRIS, Spec
from linreg.training.data.parse import Columns, Parsed, check_header, level_warnings, parse_block
from linreg.training.data.split import (
    EXACT_SPLIT_MAX_ROWS,
    Accumulator,
    Rows,
    SplitKind,
    TestSample,
)
from linreg.training.data.stream import (
    BLOCK_BYTES,
    Block,
    Readable,
    count_lines,
    line_blocks,
    plain,
    split_header,
    telling_the_end,
    too_large,
)
from linreg.training.stats import Stats

# Each parsing thread holds a block and its parsed arrays (~8× the block in all); six is
# the most vCPUs Lambda gives a function (at 10,240 MB).
MAX_THREADS = 6
# Blocks in flight per parsing thread: one parsing, one read and waiting its turn. Reading
# ahead reaches the end of the file sooner, so the exact split is made while the last
# blocks parse, and a thread that finishes never waits for the reader.
IN_FLIGHT = 2
# While blocks parse, the reading thread and the Python-level steps of pandas in the
# parsing threads take turns at the GIL; Python's default turn (5 ms) leaves the reader
# waiting and the threads it feeds idle (docs/performance.md).
SWITCH_INTERVAL_SECONDS = 0.001


@dataclass(frozen=True)
class Dataset:
    """What training needs from a file: statistics of each part, and how they were cut;
    for the report, a sample of the test rows."""

    train: Stats
    test: Stats
    split_kind: SplitKind
    rows: Rows | None  # the rows themselves, kept for an exact split only
    ignored_columns: tuple[str, ...]
    warnings: tuple[str, ...]
    test_sample: TestSample
    spec: Spec = IRIS

    @property
    def total_rows(self) -> int:
        return self.train.n + self.test.n


def load_bytes(data: bytes, **options) -> Dataset:
    return load(io.BytesIO(data), **options)


def load(
    stream: Readable,
    *,
    spec: Spec = IRIS,
    test_size: float = 0.3,
    split_seed: int = 1,
    max_bytes: int | None = None,
    block_bytes: int = BLOCK_BYTES,
    exact_max_rows: int = EXACT_SPLIT_MAX_ROWS,
    threads: int | None = None,
    deadline: Deadline | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Dataset:
    """Read a CSV (plain or gzip) holding ``spec``'s columns from ``stream`` in one pass.

    Column order does not matter; extra columns are ignored. ``max_bytes`` bounds the
    uncompressed size (a small .gz can hold a huge file). Blocks are parsed on ``threads``
    threads (default: one per available core, at most ``MAX_THREADS``). Past ``deadline``
    it stops with a ``timeout`` error. ``on_rows`` is told the rows read so far after each
    block, on the calling thread.
    """
    header, blocks = split_header(line_blocks(plain(stream, max_bytes), block_bytes))
    with _helper_thread() as helper:
        parts, levels_seen = _accumulate(
            header,
            blocks,
            spec=spec,
            accumulator=Accumulator(
                n_features=len(spec.features),
                test_size=test_size,
                seed=split_seed,
                exact_max_rows=exact_max_rows,
                helper=helper,
            ),
            threads=threads,
            deadline=deadline or Deadline(),
            on_rows=on_rows,
        )
        if parts.row_count == 0:
            raise InputError("no_data", "the file has a header but no data rows")
        cut = parts.finish()
    return Dataset(
        train=cut.train,
        test=cut.test,
        split_kind=cut.kind,
        rows=cut.rows,
        ignored_columns=tuple(name for name in header if name not in spec.required),
        warnings=level_warnings(spec, levels_seen),
        test_sample=cut.sample,
        spec=spec,
    )


@dataclass(frozen=True)
class PartStatistics:
    """One part of a file cut by byte ranges: the statistics of its rows under the hashed
    split, its sample of test rows, the levels it saw, how many lines it holds (to count
    lines across parts) and how many bytes of data (to bound the file's size across parts)."""

    train: Stats
    test: Stats
    test_sample: TestSample
    levels_seen: list[set[int]]
    lines: int
    bytes: int


def load_part(
    chunks: Iterator[bytes],
    header: list[str],
    *,
    spec: Spec = IRIS,
    test_size: float = 0.3,
    split_seed: int = 1,
    max_bytes: int | None = None,
    threads: int | None = None,
    deadline: Deadline | None = None,
) -> PartStatistics:
    """The statistics of one part's lines (``owned_lines``), the file's ``header`` read
    elsewhere. Every row goes by the hashed split, which gives each row the side it gets in
    one pass over the whole file. Lines are numbered from 1 within the part. ``max_bytes``
    bounds the part's data, uncompressed."""
    counted = _Counted(chunks, max_bytes)
    with _helper_thread() as helper:
        parts, levels_seen = _accumulate(
            header,
            counted.numbered(),
            spec=spec,
            accumulator=Accumulator(
                n_features=len(spec.features),
                test_size=test_size,
                seed=split_seed,
                exact_max_rows=0,
                helper=helper,
            ),
            threads=threads,
            deadline=deadline or Deadline(),
        )
    test = parts.hashed_test
    return PartStatistics(
        parts.total - test, test, parts.sample, levels_seen, counted.lines, counted.bytes
    )


class _Counted:
    """Numbers whole-line chunks by their first line (from 1), counts the lines and the
    bytes, and refuses more than ``max_bytes``."""

    def __init__(self, chunks: Iterator[bytes], max_bytes: int | None) -> None:
        self.chunks, self.max_bytes = chunks, max_bytes
        self.lines, self.bytes, self.unterminated = 0, 0, False

    def numbered(self) -> Iterator[Block]:
        for chunk in self.chunks:
            if chunk:
                self.bytes += len(chunk)
                if self.max_bytes is not None and self.bytes > self.max_bytes:
                    raise too_large(self.max_bytes)
                yield chunk, self.lines + 1
                self.lines += count_lines(chunk)
                self.unterminated = not chunk.endswith((b"\n", b"\r"))
        self.lines += self.unterminated


def _accumulate(
    header: list[str],
    blocks: Iterator[Block],
    *,
    spec: Spec,
    accumulator: Accumulator,
    threads: int | None,
    deadline: Deadline,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[Accumulator, list[set[int]]]:
    """Every block parsed and added to ``accumulator``; the levels seen per column."""
    check_header(header, spec)
    columns = Columns.of(header, spec)
    levels_seen: list[set[int]] = [set() for _ in spec.categorical]
    # One BLAS thread: the parsing threads have the cores, and idle OpenBLAS helper threads
    # would spin on them between the small products of each block's statistics.
    with _blas().limit(limits=1, user_api="blas"), _switch_interval(SWITCH_INTERVAL_SECONDS):
        blocks = telling_the_end(blocks, accumulator.expect)
        for X, y, codes in parsed_blocks(blocks, columns, threads or default_threads()):
            for seen, (_, levels), column_codes in zip(
                levels_seen, spec.categorical, codes.T, strict=True
            ):
                seen.update(np.flatnonzero(np.bincount(column_codes, minlength=len(levels))))
            accumulator.add(X, y)
            deadline.check("reading and parsing", rows_read=accumulator.row_count)
            if on_rows is not None:
                on_rows(accumulator.row_count)
    return accumulator, levels_seen


@contextmanager
def _helper_thread() -> Iterator[ThreadPoolExecutor]:
    # The exact split is made here while the last blocks still parse.
    with ThreadPoolExecutor(1, thread_name_prefix="split") as helper:
        yield helper


def parsed_blocks(blocks: Iterator[Block], columns: Columns, threads: int) -> Iterator[Parsed]:
    """Each block parsed, in file order, the first problem in the file raised first.

    pyarrow and pandas tokenize and convert numbers without holding the GIL, so blocks parse in
    parallel on several cores while this thread reads the next ones. At most
    ``IN_FLIGHT × threads`` blocks are in flight: memory stays bounded by the block size.
    """
    if threads == 1:
        for block, first_line in blocks:
            yield parse_block(block, first_line, columns)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="parse") as pool:
        pending: deque[Future] = deque()
        while True:
            try:
                block, first_line = next(blocks)
            except StopIteration:
                break
            except RunError:
                # Sequentially, the blocks before a damaged stream would be parsed first.
                for future in pending:
                    future.result()
                raise
            pending.append(pool.submit(parse_block, block, first_line, columns))
            if len(pending) == IN_FLIGHT * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def default_threads() -> int:
    """One parsing thread per CPU this process can use (its cores, capped by its cgroup's
    quota: ``linreg.cpus``), at most ``MAX_THREADS``."""
    return min(cpus.available(), MAX_THREADS)


@functools.cache
def _blas() -> ThreadpoolController:
    # Made once: finding the loaded BLAS libraries takes milliseconds, limiting them not.
    return ThreadpoolController()


class _SwitchInterval:
    """The interpreter's thread switch interval (process-wide), shared by the loads running
    at once (parts in threads): the first to start sets it, the last to end restores it."""

    def __init__(self) -> None:
        self.lock, self.users, self.previous = threading.Lock(), 0, 0.0

    @contextmanager
    def set_to(self, seconds: float) -> Iterator[None]:
        with self.lock:
            if self.users == 0:
                self.previous = sys.getswitchinterval()
                sys.setswitchinterval(seconds)
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    sys.setswitchinterval(self.previous)


_switch_interval = _SwitchInterval().set_to
