"""The tutorial's linear regression in MXNet: parameters, loss, gradient step, training loop.

Knows nothing of files, S3 or pandas: arrays in, parameters and loss history out.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# mxnet 1.9.1 (the last release) still uses the numpy.bool alias that numpy 1.24 removed.
if "bool" not in vars(np):
    np.bool = bool

import mxnet as mx  # noqa: E402
from mxnet import autograd, nd  # noqa: E402

# Gradient descent at a stable learning rate never raises the loss; a run whose loss grows
# this far past its first value is exploding (the tutorial's sum-loss overflow) and stops.
DIVERGENCE_FACTOR = 1e3


@dataclass(frozen=True)
class Training:
    """What a training run produced. ``weights`` is (features,), ``bias`` a float."""

    weights: np.ndarray
    bias: float
    loss_history: list[float]
    diverged: bool


def init_params(n_features: int, seed: int) -> tuple[nd.NDArray, nd.NDArray]:
    """The tutorial's initialisation: w ~ N(0, 1) of shape (features, 1), b ~ N(0, 1)."""
    mx.random.seed(seed)
    w = nd.random.normal(shape=[n_features, 1])
    b = nd.random.normal(shape=1)
    w.attach_grad()
    b.attach_grad()
    return w, b


def linreg(X: nd.NDArray, w: nd.NDArray, b: nd.NDArray) -> nd.NDArray:
    return nd.dot(X, w) + b


def squared_loss(y_hat: nd.NDArray, y: nd.NDArray, reduction: str) -> nd.NDArray:
    """Mean (or sum) of squared residuals. Both arguments must be (n, 1)."""
    # A (n,) target against a (n, 1) prediction would broadcast to (n, n) silently.
    if y_hat.shape != y.shape:
        raise ValueError(f"prediction shape {y_hat.shape} != target shape {y.shape}")
    squares = nd.square(y_hat - y)
    return nd.mean(squares) if reduction == "mean" else nd.sum(squares)


def sgd(params: list[nd.NDArray], learning_rate: float) -> None:
    # In place (x[:] =), as the tutorial does: rebinding would drop the attached gradient.
    for param in params:
        param[:] = param - param.grad * learning_rate


def train(
    X: np.ndarray,
    y: np.ndarray,
    *,
    learning_rate: float,
    iterations: int,
    seed: int,
    loss: str = "mean",
    on_iteration: Callable[[int, float], None] | None = None,
) -> Training:
    """Full-batch gradient descent with autograd. Stops early when the loss diverges."""
    X_nd, y_nd = nd.array(X), nd.array(_column(y))
    w, b = init_params(X.shape[1], seed)
    history: list[float] = []
    for iteration in range(iterations):
        with autograd.record():
            value = squared_loss(linreg(X_nd, w, b), y_nd, loss)
        value.backward()
        history.append(float(value.asscalar()))
        if on_iteration is not None:
            on_iteration(iteration, history[-1])
        if is_diverging(history):
            return Training(_weights(w), _bias(b), history, diverged=True)
        sgd([w, b], learning_rate)
    return Training(_weights(w), _bias(b), history, diverged=False)


def is_diverging(history: list[float]) -> bool:
    latest = history[-1]
    return not math.isfinite(latest) or latest > DIVERGENCE_FACTOR * history[0]


def mse(X: np.ndarray, y: np.ndarray, training: Training) -> float:
    """Mean squared error of trained parameters on (X, y), computed in MXNet like the loss."""
    w = nd.array(training.weights.reshape(-1, 1))
    b = nd.array([training.bias])
    return float(squared_loss(linreg(nd.array(X), w, b), nd.array(_column(y)), "mean").asscalar())


def params_nd(training: Training) -> bytes:
    """``w`` and ``b`` in MXNet's own format (what ``nd.save`` writes, ``nd.load`` reads)."""
    # nd.save only writes to a path; Lambda's /tmp (the default temp dir) is writable.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "params.nd")
        nd.save(
            path, {"w": nd.array(training.weights.reshape(-1, 1)), "b": nd.array([training.bias])}
        )
        with open(path, "rb") as file:
            return file.read()


def versions() -> dict[str, str]:
    return {"mxnet": mx.__version__, "numpy": np.__version__}


def _column(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).reshape(-1, 1)


def _weights(w: nd.NDArray) -> np.ndarray:
    return w.asnumpy().reshape(-1).astype(np.float64)


def _bias(b: nd.NDArray) -> float:
    return float(b.asscalar())
