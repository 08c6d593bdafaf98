"""The tutorial's linear regression in MXNet: parameters, loss, gradient step, training loop.

Two interchangeable losses feed the same autograd gradient descent:
- ``tutorial_loss``: the tutorial's own, mean((X·w + b − y)²) over every training row;
- ``statistics_loss``: the same function written with sufficient statistics,
  (θᵀGθ − 2θᵀc + yᵀy)/n with θ = [w; b]. It costs the same at 150 rows or 10 million,
  and it is the default; tests show both give the same loss history.
Both run in float64 (the statistics form subtracts large terms). Knows nothing of files,
S3 or pandas: arrays or statistics in, parameters and loss history out.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from linreg.contract import StopReason
from linreg.deadline import Deadline
from linreg.training._mxnet import autograd, mx, nd
from linreg.training.stats import Stats

DTYPE = "float64"
# Gradient descent at a stable learning rate never raises the loss; a run whose loss grows
# this far past its first value is exploding (the tutorial's sum-loss overflow) and stops.
DIVERGENCE_FACTOR = 1e3

# A loss takes θ = [w; b], one (features + 1, 1) parameter: one gradient step per
# iteration instead of two, and fewer MXNet calls (each costs more than the arithmetic).
LossFunction = Callable[[nd.NDArray], nd.NDArray]


@dataclass(frozen=True)
class Training:
    """What a training run produced. ``weights`` is (features,), ``bias`` a float."""

    weights: np.ndarray
    bias: float
    loss_history: list[float]
    stopped: StopReason

    @property
    def diverged(self) -> bool:
        return self.stopped == StopReason.DIVERGED

    @property
    def theta(self) -> np.ndarray:
        """[w; b] as one column, the form ``Stats`` scores."""
        return np.append(self.weights, self.bias).reshape(-1, 1)


def init_params(n_features: int, seed: int) -> nd.NDArray:
    """The tutorial's initialisation, w ~ N(0, 1) of shape (features, 1) then b ~ N(0, 1),
    stacked as θ = [w; b] with its gradient attached."""
    mx.random.seed(seed)
    # Drawn in float32 as the tutorial draws them, so a seed gives the tutorial's values.
    w = nd.random.normal(shape=[n_features, 1])
    b = nd.random.normal(shape=1)
    theta = nd.concat(w, b.reshape((1, 1)), dim=0).astype(DTYPE)
    theta.attach_grad()
    return theta


def linreg(X: nd.NDArray, w: nd.NDArray, b: nd.NDArray) -> nd.NDArray:
    return nd.dot(X, w) + b


def squared_loss(y_hat: nd.NDArray, y: nd.NDArray, reduction: str) -> nd.NDArray:
    """Mean (or sum) of squared residuals. Both arguments must be (n, 1)."""
    # A (n,) target against a (n, 1) prediction would broadcast to (n, n) silently.
    if y_hat.shape != y.shape:
        raise ValueError(f"prediction shape {y_hat.shape} != target shape {y.shape}")
    squares = nd.square(y_hat - y)
    return nd.mean(squares) if reduction == "mean" else nd.sum(squares)


def tutorial_loss(X: np.ndarray, y: np.ndarray, reduction: str) -> LossFunction:
    """The tutorial's loss over the rows themselves."""
    X_nd = nd.array(X, dtype=DTYPE)
    y_nd = nd.array(np.asarray(y).reshape(-1, 1), dtype=DTYPE)
    return lambda theta: squared_loss(linreg(X_nd, theta[:-1], theta[-1]), y_nd, reduction)


def statistics_loss(stats: Stats, reduction: str) -> LossFunction:
    """The same loss from AᵀA, Aᵀy, yᵀy and n: per-iteration cost independent of rows.

    Written θᵀ(Gθ − 2c) + yᵀy, with the 1/n of the mean folded into the constants, as two
    fused matrix products (gemm: Gθ + (−2c) in one step). Each MXNet call from Python costs
    far more than this arithmetic, so the formula is compiled once into a graph (a
    CachedOp): one call forward and one backward per iteration, autograd as before.
    """
    scale = 1.0 / stats.n if reduction == "mean" else 1.0
    gram = nd.array(stats.gram * scale, dtype=DTYPE)
    minus_two_moment = nd.array(-2 * scale * stats.moment, dtype=DTYPE)
    theta, G, m = mx.sym.var("theta"), mx.sym.var("G"), mx.sym.var("m")
    formula = mx.sym.linalg.gemm2(theta, mx.sym.linalg.gemm(G, theta, m), transpose_a=True)
    graph = nd.CachedOp(formula + stats.yy * scale, flags=[("static_alloc", True)])
    assert formula.list_inputs() == ["theta", "G", "m"]  # the order the graph takes them in
    return lambda theta: graph(theta, gram, minus_two_moment)


def sgd(params: list[nd.NDArray], learning_rate: float) -> None:
    # The tutorial's x[:] = x - x.grad * lr, the same arithmetic written into the same
    # array (rebinding would drop the attached gradient). NDArray's x[:] = goes through
    # Python slicing code that costs several times the subtraction, on every iteration.
    for param in params:
        param -= param.grad * learning_rate


def train(
    loss_of: LossFunction,
    *,
    n_features: int,
    learning_rate: float,
    iterations: int,
    seed: int,
    tolerance: float | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    deadline: Deadline | None = None,
) -> Training:
    """Full-batch gradient descent with autograd. Stops early when the loss diverges, or,
    given a ``tolerance``, once an iteration changes the loss by less than that fraction;
    past ``deadline``, with a ``timeout`` error."""
    deadline = deadline or Deadline()
    theta = init_params(n_features, seed)
    history: list[float] = []
    for iteration in range(iterations):
        deadline.check("training", iterations_run=iteration)
        with autograd.record():
            value = loss_of(theta)
        value.backward()
        history.append(value.asnumpy().item())  # a (1,) or (1, 1) loss
        if on_iteration is not None:
            on_iteration(iteration, history[-1])
        if is_diverging(history):
            return _training(theta, history, StopReason.DIVERGED)
        if tolerance is not None and _settled(history, tolerance):
            return _training(theta, history, StopReason.TOLERANCE)
        sgd([theta], learning_rate)
    return _training(theta, history, StopReason.ITERATIONS)


def _settled(history: list[float], tolerance: float) -> bool:
    return len(history) > 1 and abs(history[-2] - history[-1]) <= tolerance * history[-1]


def is_diverging(history: list[float]) -> bool:
    latest = history[-1]
    return not math.isfinite(latest) or latest > DIVERGENCE_FACTOR * history[0]


def params_nd(training: Training) -> bytes:
    """``w`` and ``b`` in MXNet's own format (what ``nd.save`` writes, ``nd.load`` reads)."""
    # nd.save only writes to a path; Lambda's /tmp (the default temp dir) is writable.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "params.nd")
        weights = nd.array(training.weights.reshape(-1, 1), dtype=DTYPE)
        nd.save(path, {"w": weights, "b": nd.array([training.bias], dtype=DTYPE)})
        with open(path, "rb") as file:
            return file.read()


def load_nd(path: str | os.PathLike) -> dict[str, nd.NDArray]:
    """A run's params.nd, ``{"w": (features × 1), "b": (1,)}``: ``nd.load`` after MXNet is
    made importable as this project needs it (a plain ``import mxnet`` fails on numpy 2)."""
    return nd.load(os.fspath(path))


def versions() -> dict[str, str]:
    return {"mxnet": mx.__version__, "numpy": np.__version__}


def _training(theta: nd.NDArray, history: list[float], stopped: StopReason) -> Training:
    values = theta.asnumpy().reshape(-1)
    return Training(values[:-1].copy(), float(values[-1]), history, stopped)
