"""The documents a run writes: report.json and params.json, as plain dicts.

Knows nothing of S3, files or figures.
"""

from __future__ import annotations

import math
import platform

from linreg import __version__
from linreg.config import Hyperparameters
from linreg.contract import Status
from linreg.data import Dataset
from linreg.model import Training
from linreg.spec import Spec
from linreg.stats import Baseline, Scaling


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
    train_mse: float | None,
    test_mse: float | None,
    baseline: Baseline,
    standardization: dict | None,
    timings: dict[str, float],
    source: dict | None,
    run_id: str | None,
) -> dict:
    """report.json. MSEs and params are ``None`` for a diverged run: they mean nothing."""
    diverged = status == Status.DIVERGED
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
        "split": data.split_kind,
        "dataset": data.spec.name,
        "params": None
        if diverged
        else {"weights": _weights(training, data.spec.features), "bias": training.bias},
        "standardization": standardization,
        "ignored_columns": list(data.ignored_columns),
        "warnings": list(data.warnings),
        "input": source,
        "timings": {name: round(seconds, 4) for name, seconds in timings.items()},
    }


def standardization(scaling: Scaling, fitted: Training, features: tuple[str, ...]) -> dict:
    """The standardization and the weights as trained, in standardized units."""
    return {
        "mean": dict(zip(features, scaling.mean.tolist(), strict=True)),
        "scale": dict(zip(features, scaling.scale.tolist(), strict=True)),
        "weights": _weights(fitted, features),
        "bias": fitted.bias,
    }


def _weights(training: Training, features: tuple[str, ...]) -> dict[str, float]:
    return {name: float(weight) for name, weight in zip(features, training.weights, strict=True)}
