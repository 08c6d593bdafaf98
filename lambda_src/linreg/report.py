"""What a run tells its user: closed-form baseline, report.json, params.json, loss plot.

Knows nothing of S3; everything here returns plain values or bytes.
"""

from __future__ import annotations

import functools
import io
import math
import platform
import threading
from dataclasses import dataclass

from linreg import __version__
from linreg.config import Hyperparameters
from linreg.dataset import Dataset
from linreg.model import Training
from linreg.spec import Spec
from linreg.stats import Scaling, Stats, least_squares


@dataclass(frozen=True)
class Baseline:
    """Ordinary least squares on the same split: the optimum gradient descent aims at."""

    train_mse: float
    test_mse: float


def baseline(train: Stats, test: Stats) -> Baseline:
    """The least-squares fit on the training part, scored on both parts."""
    theta = least_squares(train)
    return Baseline(train_mse=train.mse(theta), test_mse=test.mse(theta))


def params(
    training: Training,
    hyperparameters: Hyperparameters,
    versions: dict,
    standardization: dict | None,
    spec: Spec,
) -> dict:
    """params.json: everything needed to apply the model without this code. ``weights`` and
    ``bias`` apply to raw features; ``standardization`` (or null) records the scaling the
    model was trained with and its weights in standardized units."""
    return {
        "target": spec.target,
        "features": list(spec.features),
        "dataset": spec.as_dict(),
        "weights": _weights(training, spec.features),
        "bias": training.bias,
        "standardization": standardization,
        "hyperparameters": hyperparameters.as_dict(),
        "versions": {**versions, "linreg": __version__, "python": platform.python_version()},
    }


def report(
    *,
    status: str,
    hyperparameters: Hyperparameters,
    data: Dataset,
    training: Training,
    train_mse: float | None,
    test_mse: float | None,
    baseline: Baseline,
    scaling: dict | None,
    timings: dict[str, float],
    source: dict | None,
    run_id: str | None,
) -> dict:
    """report.json. MSEs and params are ``None`` for a diverged run: they mean nothing."""
    diverged = status == "diverged"
    return {
        "status": status,
        "run_id": run_id,
        "test_mse": test_mse,
        "train_mse": train_mse,
        "baseline_test_mse": baseline.test_mse,
        "baseline_train_mse": baseline.train_mse,
        "iterations_run": len(training.loss_history),
        "stopped": training.stopped,
        # JSON has no NaN or infinity: a diverged run's last loss may be either.
        "loss_history": [
            value if math.isfinite(value) else None for value in training.loss_history
        ],
        "hyperparameters": hyperparameters.as_dict(),
        "rows": {"total": data.total_rows, "train": data.train.n, "test": data.test.n},
        "split": data.split,
        "dataset": data.spec.name,
        "params": None
        if diverged
        else {"weights": _weights(training, data.spec.features), "bias": training.bias},
        "standardization": scaling,
        "ignored_columns": list(data.ignored_columns),
        "warnings": list(data.warnings),
        "input": source,
        "timings": {name: round(seconds, 4) for name, seconds in timings.items()},
    }


def scaling(scaling: Scaling, fitted: Training, features: tuple[str, ...]) -> dict:
    """The standardization and the weights as trained, in standardized units."""
    return {
        "mean": dict(zip(features, scaling.mean.tolist(), strict=True)),
        "scale": dict(zip(features, scaling.scale.tolist(), strict=True)),
        "weights": _weights(fitted, features),
        "bias": fitted.bias,
    }


def loss_plot(loss_history: list[float], *, loss: str) -> bytes:
    """The tutorial's loss curve as PNG bytes. Needs no display."""
    return _loss_figure().render(loss_history, loss)


class _LossFigure:
    """One figure per process, redrawn with each run's curve: a warm invocation skips
    building it, which costs half as much again as drawing it. The PNG is byte-for-byte
    what a new figure gives (a test checks)."""

    def __init__(self) -> None:
        # Figure (not pyplot) draws with the Agg canvas and keeps no global state.
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 4), dpi=100)
        # Fixed margins: tight_layout would measure every label first, doubling the cost.
        self.figure.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.12)
        self.axes = self.figure.add_subplot()
        (self.line,) = self.axes.plot([], [])
        self.axes.set_xlabel("iteration")
        self.axes.grid(alpha=0.3)
        self.lock = threading.Lock()

    def render(self, loss_history: list[float], loss: str) -> bytes:
        with self.lock:
            self.line.set_data(range(1, len(loss_history) + 1), loss_history)
            self.axes.relim()
            self.axes.autoscale_view()
            # y given: otherwise matplotlib measures every tick label on each drawing to see
            # whether the title must move up, and nothing here sits above the axes.
            self.axes.set_title(f"Training - {loss} loss", y=1.0)
            self.axes.set_ylabel(f"{loss} squared error")
            buffer = io.BytesIO()
            # Light compression: a third faster than the default for a few kB more.
            self.figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
            return buffer.getvalue()


@functools.cache
def _loss_figure() -> _LossFigure:
    return _LossFigure()


def _weights(training: Training, features: tuple[str, ...]) -> dict[str, float]:
    return {name: float(weight) for name, weight in zip(features, training.weights, strict=True)}
