"""The documents a run writes: report.json and params.json, as plain dicts.

Knows nothing of S3, files or figures.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np

from linreg import __version__
from linreg.config import Hyperparameters
from linreg.contract import LOSS_HISTORY_FILE, Status
from linreg.payloads import Report
from linreg.spec import Spec
from linreg.training.data import Dataset, TestSample
from linreg.training.model import Training
from linreg.training.stats import Baseline, Scaling

# report.json carries at most this many points of the loss curve, so that it stays small
# whatever the iterations; a longer curve is sampled evenly and kept whole beside it.
MAX_REPORTED_LOSSES = 1000


def model_params(
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


def run_report(
    *,
    status: Status,
    hyperparameters: Hyperparameters,
    data: Dataset,
    training: Training,
    baseline: Baseline,
    standardization: dict | None,
    timings: dict[str, float],
    source: Mapping[str, Any] | None,
    run_id: str | None,
) -> Report:
    """report.json. The trained model's scores, params and fit sample are ``None`` for a
    diverged run: they mean nothing."""
    diverged = status == Status.DIVERGED
    theta = training.theta
    train_r2, test_r2 = (None, None) if diverged else r2_scores(data, theta)
    baseline_train_r2, baseline_test_r2 = r2_scores(data, baseline.theta)
    return {
        "status": status,
        "run_id": run_id,
        "test_mse": None if diverged else data.test.mse(theta),
        "train_mse": None if diverged else data.train.mse(theta),
        "test_r2": test_r2,
        "train_r2": train_r2,
        "baseline_test_mse": baseline.test_mse,
        "baseline_train_mse": baseline.train_mse,
        "baseline_test_r2": baseline_test_r2,
        "baseline_train_r2": baseline_train_r2,
        "iterations_run": len(training.loss_history),
        "stopped": training.stopped,
        **_loss_curve(training.loss_history),
        "hyperparameters": hyperparameters.as_dict(),
        "rows": {"total": data.total_rows, "train": data.train.n, "test": data.test.n},
        "split": data.split_kind,
        "dataset": data.spec.name,
        "params": None if diverged else _params_of(theta, data.spec.features),
        "baseline_params": _params_of(baseline.theta, data.spec.features),
        "fit_sample": None
        if diverged
        else fit_sample(data, training, seed=hyperparameters.split_seed),
        "standardization": standardization,
        "ignored_columns": list(data.ignored_columns),
        "warnings": list(data.warnings),
        "input": source,
        "timings": {name: round(seconds, 4) for name, seconds in timings.items()},
    }


def r2_scores(data: Dataset, theta: np.ndarray) -> tuple[float | None, float | None]:
    """Train and test R² of θ = [w; b]. Where the rows are kept (the exact split), it is
    scikit-learn's own ``r2_score`` of each side's rows; beyond, each side's statistics give
    it (``Stats.r2``), which loses digits when the target's mean dwarfs its spread (a mean of
    a million and a spread of one leaves about four). ``None`` for a side of one row, or
    whose predictions overflow."""
    if data.rows is None:
        return data.train.r2(theta), data.test.r2(theta)
    from sklearn.metrics import r2_score

    weights, bias = np.asarray(theta, dtype=np.float64)[:-1, 0], float(theta[-1, 0])
    with np.errstate(over="ignore", invalid="ignore"):
        predicted = np.concatenate([X @ weights + bias for X, _ in data.rows.blocks])
    actual = data.rows.y.reshape(-1)
    scores = []
    for index in (data.rows.train_index, data.rows.test_index):
        drawn = predicted[index]
        finite = len(index) >= 2 and bool(np.isfinite(drawn).all())
        scores.append(float(r2_score(actual[index], drawn)) if finite else None)
    return scores[0], scores[1]


def fit_sample(data: Dataset, training: Training, *, seed: int) -> dict:
    """How the test rows of the fit figures were chosen: ``all`` of them, or, past
    ``SAMPLE_ROWS``, the ones with the ``lowest_hash`` of their values and the split seed;
    ``points``: how many the figure shows (rows whose prediction overflows cannot be)."""
    actual, _ = fit_points(data.test_sample, training)
    return {
        "points": len(actual),
        "test_rows": data.test.n,
        "drawn": "all" if len(data.test_sample) == data.test.n else "lowest_hash",
        "seed": seed,
    }


def fit_points(sample: TestSample, training: Training) -> tuple[np.ndarray, np.ndarray]:
    """Actual and predicted targets of the sampled test rows; a row whose prediction or
    residual overflows (values near the parser's limit) is left out: no axis can show it."""
    actual = sample.y.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        predicted = sample.X @ training.weights + training.bias
        drawable = np.isfinite(predicted) & np.isfinite(actual - predicted)
    return actual[drawable], predicted[drawable]


def standardization(scaling: Scaling, fitted: Training, features: tuple[str, ...]) -> dict:
    """The standardization and the weights as trained, in standardized units."""
    return {
        "mean": dict(zip(features, scaling.mean.tolist(), strict=True)),
        "scale": dict(zip(features, scaling.scale.tolist(), strict=True)),
        "weights": _weights(fitted, features),
        "bias": fitted.bias,
    }


def loss_points(history: list[float]) -> tuple[list[int], list[float]]:
    """At most ``MAX_REPORTED_LOSSES`` (iteration, loss) points of a curve: all of a short
    one, else evenly spaced ones with the first and the last."""
    if len(history) <= MAX_REPORTED_LOSSES:
        return list(range(1, len(history) + 1)), history
    kept = np.unique(np.linspace(0, len(history) - 1, MAX_REPORTED_LOSSES).round().astype(int))
    return (kept + 1).tolist(), [history[index] for index in kept]


def loss_history(history: list[float]) -> dict:
    """The whole curve, for loss_history.json."""
    return {"iterations_run": len(history), "loss_history": _json_numbers(history)}


def _loss_curve(history: list[float]) -> dict:
    iterations, values = loss_points(history)
    curve: dict[str, Any] = {"loss_history": _json_numbers(values)}
    if len(values) < len(history):
        curve["loss_history_iterations"] = iterations
        curve["loss_history_file"] = LOSS_HISTORY_FILE
    return curve


def _json_numbers(values: list[float]) -> list[float | None]:
    # JSON has no NaN or infinity: a diverged run's last loss may be either.
    return [value if math.isfinite(value) else None for value in values]


def _weights(training: Training, features: tuple[str, ...]) -> dict[str, float]:
    return {name: float(weight) for name, weight in zip(features, training.weights, strict=True)}


def _params_of(theta: np.ndarray, features: tuple[str, ...]) -> dict:
    values = np.asarray(theta, dtype=np.float64).reshape(-1)
    weights = dict(zip(features, values[:-1].tolist(), strict=True))
    return {"weights": weights, "bias": float(values[-1])}
