"""Sufficient statistics of least squares: all the data the squared loss ever needs.

For rows A = [X, 1] and target y, the sum of squared errors of θ = [w; b] is
    SSE(θ) = θᵀ(AᵀA)θ − 2θᵀ(Aᵀy) + yᵀy
so AᵀA, Aᵀy, yᵀy and the row count describe a data set completely for training and
scoring, in a few dozen numbers whatever the number of rows. Plain numpy, float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this fraction of yᵀy, the target's spread about its mean counts as zero.
CONSTANT_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Stats:
    """``gram`` = AᵀA (p+1, p+1), ``moment`` = Aᵀy (p+1, 1), ``yy`` = yᵀy, ``n`` rows."""

    gram: np.ndarray
    moment: np.ndarray
    yy: float
    n: int

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray) -> Stats:
        # Blocks of AᵀA from X itself: no copy of X with a column of ones appended.
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        # Column sums as a matrix product: fast whatever X's memory order, where sum(axis=0)
        # across the short rows of a C-ordered X is several times slower.
        sums = (np.ones(len(X)) @ X).reshape(-1, 1)
        gram = np.block([[X.T @ X, sums], [sums.T, np.array([[len(X)]])]])
        moment = np.vstack([X.T @ y, [[y.sum()]]])
        return cls(gram=gram, moment=moment, yy=float((y.T @ y)[0, 0]), n=len(X))

    @classmethod
    def zero(cls, n_features: int) -> Stats:
        size = n_features + 1
        return cls(gram=np.zeros((size, size)), moment=np.zeros((size, 1)), yy=0.0, n=0)

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            gram=self.gram + other.gram,
            moment=self.moment + other.moment,
            yy=self.yy + other.yy,
            n=self.n + other.n,
        )

    def __sub__(self, other: Stats) -> Stats:
        return Stats(
            gram=self.gram - other.gram,
            moment=self.moment - other.moment,
            yy=self.yy - other.yy,
            n=self.n - other.n,
        )

    def sse(self, theta: np.ndarray) -> float:
        """Sum of squared errors of θ = [w; b] (shape (p+1, 1))."""
        theta = np.asarray(theta, dtype=np.float64).reshape(-1, 1)
        value = theta.T @ self.gram @ theta - 2 * theta.T @ self.moment + self.yy
        # Rounding can take an exact fit a hair below zero.
        return max(float(value[0, 0]), 0.0)

    def mse(self, theta: np.ndarray) -> float:
        return self.sse(theta) / self.n

    def r2(self, theta: np.ndarray) -> float | None:
        """The coefficient of determination of θ on these rows, 1 − SSE / Σ(y − ȳ)², with
        scikit-learn's rule for a constant target. Σ(y − ȳ)² = yᵀy − (Σy)²/n, Σy being Aᵀy's
        last entry (A's last column is ones): a difference of large sums, so a target whose
        mean dwarfs its spread loses digits here (the report scores kept rows directly).
        ``None`` for fewer than two rows."""
        if self.n < 2:
            return None
        total = self.yy - float(self.moment[-1, 0]) ** 2 / self.n
        sse = self.sse(theta)
        # A constant target: scikit-learn scores a perfect fit 1 and any other 0. Rounding
        # leaves a constant's spread a hair above zero, so "zero" is relative to yᵀy.
        if total <= CONSTANT_TOLERANCE * self.yy:
            return 1.0 if sse <= CONSTANT_TOLERANCE * self.yy else 0.0
        return 1.0 - sse / total


def least_squares(stats: Stats) -> np.ndarray:
    """The θ minimising SSE: the normal equations AᵀAθ = Aᵀy, minimum-norm when singular
    (e.g. a constant indicator column when only one species is present)."""
    theta, *_ = np.linalg.lstsq(stats.gram, stats.moment, rcond=None)
    return theta


@dataclass(frozen=True)
class Baseline:
    """Ordinary least squares on the same split: the optimum gradient descent aims at."""

    theta: np.ndarray  # [w; b], (p+1, 1)
    train_mse: float
    test_mse: float


def baseline(train: Stats, test: Stats) -> Baseline:
    """The least-squares fit on the training part, scored on both parts."""
    theta = least_squares(train)
    return Baseline(theta=theta, train_mse=train.mse(theta), test_mse=test.mse(theta))


def curvature(stats: Stats, reduction: str) -> float:
    """The largest eigenvalue of the loss's Hessian (2AᵀA, over n for the mean loss):
    gradient descent is stable for learning rates below 2 / curvature."""
    hessian = 2 * stats.gram / (stats.n if reduction == "mean" else 1)
    return float(np.linalg.eigvalsh(hessian)[-1])


@dataclass(frozen=True)
class Scaling:
    """Standardization z = (x − mean) / scale, fitted on training statistics.

    Rows standardize as A' = A·M, so statistics transform exactly (G' = MᵀGM, c' = Mᵀc)
    and parameters map back to original units as θ = M·θ'. A constant column (one
    species only) keeps scale 1: it is centred to zero and carries no information.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, stats: Stats) -> Scaling:
        size = len(stats.gram) - 1
        mean = stats.gram[:size, size] / stats.n
        variance = np.diag(stats.gram)[:size] / stats.n - mean**2
        scale = np.where(variance > 1e-12, np.sqrt(np.maximum(variance, 0.0)), 1.0)
        return cls(mean=mean, scale=scale)

    @property
    def matrix(self) -> np.ndarray:
        size = len(self.mean)
        M = np.eye(size + 1)
        M[:size, :size] = np.diag(1 / self.scale)
        M[size, :size] = -self.mean / self.scale
        return M

    def stats(self, stats: Stats) -> Stats:
        M = self.matrix
        return Stats(gram=M.T @ stats.gram @ M, moment=M.T @ stats.moment, yy=stats.yy, n=stats.n)

    def rows(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    def to_original(self, theta: np.ndarray) -> np.ndarray:
        return self.matrix @ np.asarray(theta).reshape(-1, 1)
