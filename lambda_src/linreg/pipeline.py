"""One training run, start to finish: CSV bytes → dataset → model → report files.

The Lambda handler and the CLI both call ``run``; neither knows the steps inside.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from linreg import dataset, model, report
from linreg.config import Hyperparameters
from linreg.jsonfile import to_json

SUCCEEDED = "succeeded"
DIVERGED = "diverged"
FAILED = "failed"


@dataclass(frozen=True)
class Run:
    """A finished run: its report, and the files to publish (name → bytes)."""

    status: str
    report: dict
    files: dict[str, bytes]


def run(
    data: bytes,
    hyperparameters: Hyperparameters,
    *,
    source: dict | None = None,
    run_id: str | None = None,
    max_bytes: int | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
) -> Run:
    """Train on an iris CSV. Raises ``InputError`` for anything wrong with the data.

    A succeeded run has params.json, params.nd, report.json and loss.png; a diverged
    run has report.json alone, so it can never be mistaken for a model.
    """
    started = time.perf_counter()
    table = dataset.load_table(data, max_bytes=max_bytes)
    X, y = dataset.features(table)
    split = dataset.split(
        X, y, test_size=hyperparameters.test_size, seed=hyperparameters.split_seed
    )
    parsed = time.perf_counter()
    training = model.train(
        split.X_train,
        split.y_train,
        learning_rate=hyperparameters.learning_rate,
        iterations=hyperparameters.iterations,
        seed=hyperparameters.seed,
        loss=hyperparameters.loss,
        on_iteration=on_iteration,
    )
    trained = time.perf_counter()
    status = DIVERGED if training.diverged else SUCCEEDED
    evaluate = status == SUCCEEDED
    summary = report.report(
        status=status,
        hyperparameters=hyperparameters,
        split=split,
        training=training,
        train_mse=model.mse(split.X_train, split.y_train, training) if evaluate else None,
        test_mse=model.mse(split.X_test, split.y_test, training) if evaluate else None,
        baseline=report.baseline(split),
        ignored_columns=table.ignored_columns,
        warnings=table.warnings,
        timings={"parse_seconds": parsed - started, "train_seconds": trained - parsed},
        source=source,
        run_id=run_id,
    )
    if not evaluate:
        summary["error"] = {
            "code": "diverged",
            "message": divergence_message(training.loss_history),
        }
    files = {"report.json": to_json(summary)}
    if evaluate:
        files["params.json"] = to_json(report.params(training, hyperparameters, model.versions()))
        files["params.nd"] = model.params_nd(training)
        files["loss.png"] = report.loss_plot(training.loss_history, loss=hyperparameters.loss)
    return Run(status=status, report=summary, files=files)


def divergence_message(loss_history: list[float]) -> str:
    return (
        f"training diverged at iteration {len(loss_history)}: the loss went from "
        f"{loss_history[0]:.4g} to {loss_history[-1]:.4g}; lower the learning rate "
        "or use the mean loss"
    )
