"""Which rows train and which test, and the statistics of each part, block by block.

Up to ``EXACT_SPLIT_MAX_ROWS`` rows are kept and split exactly as the tutorial splits its
frame (scikit-learn's ``train_test_split``). Beyond that, a seeded hash of each row's
values assigns it, with the same test fraction, and only sufficient statistics are kept
(``linreg.training.stats``). A bounded sample of test rows is kept either way, for the report's
figures (``TestSample``). Knows nothing of S3, parsing or MXNet.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from linreg.errors import InputError
from linreg.training.stats import Stats

# Up to this many rows the rows are kept for the tutorial's exact split.
EXACT_SPLIT_MAX_ROWS = 1_000_000
# The most test rows the report's fit figures show: more would only blur the scatter and
# grow the page.
SAMPLE_ROWS = 2_000

# (X, y) of one block of rows, as parsed.
Block = tuple[np.ndarray, np.ndarray]


class SplitKind(StrEnum):
    EXACT = "exact"  # scikit-learn's split of the kept rows
    HASHED = "hashed"  # a seeded hash of each row's values


@dataclass(frozen=True)
class Rows:
    """All rows, as the blocks they were read in, and how they are cut. ``y`` is (n, 1),
    never (n,). The arrays are made on demand: only the tutorial engine needs them."""

    blocks: tuple[Block, ...]  # in file order
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
class Parts:
    """The statistics of each part, how they were cut, and the rows if they were kept."""

    train: Stats
    test: Stats
    kind: SplitKind
    rows: Rows | None
    sample: TestSample


def exact_split(
    row_count: int, *, n_features: int, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions as scikit-learn's ``train_test_split`` cuts a frame of
    ``row_count`` rows, as the tutorial splits its frame."""
    from sklearn.model_selection import ShuffleSplit

    needed = min_rows(test_size, n_features)
    if row_count < needed:
        raise InputError(
            "too_few_rows",
            f"{row_count} data rows is too few: with a {test_size:g} test fraction and "
            f"{n_features} features at least {needed} rows are needed",
        )
    # The splitter train_test_split uses inside, and the very same indices, without
    # train_test_split's copies of them.
    splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    return next(splitter.split(np.empty((row_count, 0))))


def hashed_test_rows(X: np.ndarray, y: np.ndarray, *, seed: int, test_size: float) -> np.ndarray:
    """Which rows are test rows, for large inputs: each row's hash (``row_hashes``) read as
    a number uniform on [0, 1), below the test fraction.

    The assignment depends on a row's values and the seed alone: not on where the row sits
    or how the file was cut into blocks or parts, so one pass and a distributed run of the
    same file split it alike. Identical rows land on the same side.
    """
    return _is_test(row_hashes(X, y, seed=seed), test_size)


def row_hashes(X: np.ndarray, y: np.ndarray, *, seed: int) -> np.ndarray:
    """A splitmix64 hash of each row's values (their bits) and the seed, as uint64."""
    hashed = np.full(len(X), seed * 0x9E3779B97F4A7C15 % 2**64, dtype=np.uint64)
    for column in (*X.T, np.asarray(y).reshape(-1)):
        bits = np.ascontiguousarray(column, dtype=np.float64).view(np.uint64)
        hashed = _splitmix(hashed ^ bits)
    return hashed


def _is_test(hashed: np.ndarray, test_size: float) -> np.ndarray:
    return (hashed >> np.uint64(11)) < np.uint64(int(test_size * 2**53))


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass(frozen=True)
class TestSample:
    """Up to ``SAMPLE_ROWS`` test rows for the report's figures: all of them when there are
    no more, else the ones with the smallest ``row_hashes``. That choice depends on the rows'
    values and the seed alone, so the same file and seed give the same rows whether it is
    read in one pass, in other blocks, or in parts whose samples are ``merged``."""

    __test__ = False  # not a pytest class, despite the name

    X: np.ndarray
    y: np.ndarray  # (n, 1)
    hashes: np.ndarray  # uint64, ascending

    @classmethod
    def empty(cls, n_features: int) -> TestSample:
        return cls(np.empty((0, n_features)), np.empty((0, 1)), np.empty(0, dtype=np.uint64))

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, *, seed: int) -> TestSample:
        """The sample of these test rows."""
        return cls.empty(X.shape[1]).merged(X, y, row_hashes(X, y, seed=seed))

    def merged(self, X: np.ndarray, y: np.ndarray, hashes: np.ndarray) -> TestSample:
        """This sample with more test rows (and their hashes) offered to it."""
        if len(self.hashes) == SAMPLE_ROWS:
            # Most rows of a long file cannot make the cut: drop them before concatenating.
            keep = hashes < self.hashes[-1]
            X, y, hashes = X[keep], y[keep], hashes[keep]
        if len(hashes) == 0:
            return self
        X = np.concatenate([self.X, X])
        y = np.concatenate([self.y, np.asarray(y).reshape(-1, 1)])
        hashes = np.concatenate([self.hashes, hashes])
        # Identical rows share a hash, so ties leave the sample's values the same either way.
        kept = np.argsort(hashes, kind="stable")[:SAMPLE_ROWS]
        return TestSample(X[kept], y[kept], hashes[kept])

    def __len__(self) -> int:
        return len(self.hashes)


def check_sides(train_rows: int, test_rows: int, n_features: int, test_size: float) -> None:
    """The hashed split's parts hold what the exact split guarantees: a test row, and a
    training row per parameter."""
    if test_rows < 1 or train_rows < n_features + 1:
        raise InputError(
            "too_few_rows",
            f"a {test_size:g} test fraction leaves {train_rows:,} training and {test_rows:,} "
            f"test rows; at least {n_features + 1} and 1 are needed: choose a test size "
            "nearer 0.3",
        )


def min_rows(test_size: float, n_features: int) -> int:
    """Fewest rows giving one test row and a train set with a row per parameter."""
    rows = 2
    while rows - math.ceil(test_size * rows) < n_features + 1:
        rows += 1
    return rows


class Accumulator:
    """Statistics of all rows, block by block as they arrive (while later blocks are still
    being parsed); the rows themselves while they are few enough for the exact split, and
    hashed test-row statistics after that. Train = all − test: one copy of the smaller part.
    """

    def __init__(
        self,
        *,
        n_features: int,
        test_size: float,
        seed: int,
        exact_max_rows: int,
        helper: ThreadPoolExecutor,
    ) -> None:
        self.n_features, self.test_size, self.seed = n_features, test_size, seed
        self.exact_max_rows, self.helper = exact_max_rows, helper
        self.kept: list[Block] | None = []
        self.row_count = 0
        self.total = self.hashed_test = Stats.zero(n_features)
        # The test rows' sample: merged block by block under the hashed split; the exact
        # split's comes with its cut (finish).
        self.sample = TestSample.empty(n_features)
        self.early_split: tuple[int, Future] | None = None

    def expect(self, row_count: int) -> None:
        """The whole file has been read: it holds ``row_count`` data rows unless some lines
        are blank. Start the exact split for that many now, and count the test rows of the
        blocks added so far, on the helper thread while the last blocks are still parsing;
        ``finish`` uses that if the guess was right."""
        if self.kept is not None and row_count <= self.exact_max_rows:
            added = list(self.kept)  # the blocks still parsing are counted by finish
            self.early_split = row_count, self.helper.submit(self._exact_cut, row_count, added)

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        self.total += Stats.of(X, y)
        if self.kept is not None and self.row_count + len(X) > self.exact_max_rows:
            # Too many to keep: take the kept rows' test part and stream from here on.
            for kept_X, kept_y in self.kept:
                self.hashed_test += self._hashed_test(kept_X, kept_y)
            self.kept = None
        if self.kept is not None:
            self.kept.append((X, y))
        else:
            self.hashed_test += self._hashed_test(X, y)
        self.row_count += len(X)

    def finish(self) -> Parts:
        if self.kept is None:
            parts = self._parts(self.hashed_test, SplitKind.HASHED, None)
            check_sides(parts.train.n, parts.test.n, self.n_features, self.test_size)
            return parts
        guess, early = self.early_split or (None, None)
        # A blank line makes the early guess too high: then the split is made again here.
        if early is not None and guess == self.row_count:
            cut = early.result()
        else:
            cut = self._exact_cut(self.row_count, [])
        cut = cut.counting(self.kept[cut.blocks :])
        rows = Rows(blocks=tuple(self.kept), train_index=cut.train_index, test_index=cut.test_index)
        self.sample = cut.sample
        return self._parts(cut.test, SplitKind.EXACT, rows)

    def _hashed_test(self, X: np.ndarray, y: np.ndarray) -> Stats:
        hashes = row_hashes(X, y, seed=self.seed)
        test = _is_test(hashes, self.test_size)
        X, y = X[test], y[test]
        self.sample = self.sample.merged(X, y, hashes[test])
        return Stats.of(X, y)

    def _exact_cut(self, row_count: int, blocks: list[Block]) -> _ExactCut:
        train_index, test_index = exact_split(
            row_count, n_features=self.n_features, test_size=self.test_size, seed=self.seed
        )
        # A mask reads each block's test rows in file order, faster than gathering by index.
        test_rows = np.zeros(row_count, dtype=bool)
        test_rows[test_index] = True
        none_counted = _ExactCut(
            train_index,
            test_index,
            test_rows,
            Stats.zero(self.n_features),
            TestSample.empty(self.n_features),
            self.seed,
            0,
            0,
        )
        return none_counted.counting(blocks)

    def _parts(self, test: Stats, kind: SplitKind, rows: Rows | None) -> Parts:
        return Parts(train=self.total - test, test=test, kind=kind, rows=rows, sample=self.sample)


@dataclass(frozen=True)
class _ExactCut:
    """scikit-learn's split of the whole file, and the test statistics and sample of its
    first ``blocks`` blocks (``rows`` rows) under it."""

    train_index: np.ndarray
    test_index: np.ndarray
    test_rows: np.ndarray  # True for each test row, by position in the file
    test: Stats
    sample: TestSample
    seed: int
    blocks: int
    rows: int

    def counting(self, blocks: list[Block]) -> _ExactCut:
        """This cut with the test rows of ``blocks``, the file's next blocks, counted too
        (mostly on the helper thread, while the last blocks parse)."""
        test, sample, first_row = self.test, self.sample, self.rows
        for X, y in blocks:
            mask = self.test_rows[first_row : first_row + len(X)]
            test_X, test_y = X[mask], y[mask]
            test += Stats.of(test_X, test_y)
            sample = sample.merged(test_X, test_y, row_hashes(test_X, test_y, seed=self.seed))
            first_row += len(X)
        return replace(
            self, test=test, sample=sample, blocks=self.blocks + len(blocks), rows=first_row
        )
