"""One training run, start to finish: CSV stream → data → model → report files.

The Lambda handler and the CLI both call ``run``; neither knows the steps inside.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from linreg import progress
from linreg.config import Hyperparameters
from linreg.contract import (
    LOSS_FIGURE_FILE,
    LOSS_HISTORY_FILE,
    MODEL_SQL_FILE,
    PARAMS_FILE,
    PARAMS_ND_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
    Status,
)
from linreg.deadline import Deadline, training_seconds
from linreg.errors import InputError, RunError, RunStopped
from linreg.jsonfile import to_json
from linreg.outputs import figures, model_sql, report, report_html
from linreg.payloads import Report
from linreg.spec import Spec, spec_named
from linreg.training import data, model
from linreg.training.data import Readable
from linreg.training.stats import Scaling, Stats, baseline, curvature


@dataclass(frozen=True)
class Result:
    """A finished run: its report, and the files to publish (name → bytes). A diverged
    run also carries the error its failure record states."""

    status: Status
    report: Report
    files: dict[str, bytes]
    error: RunError | None = None


def run(
    csv: bytes | Readable,
    hyperparameters: Hyperparameters,
    *,
    source: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    max_bytes: int | None = None,
    spec: Spec | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    deadline: Deadline | None = None,
    size: int | None = None,
    cost: Callable[[], dict] | None = None,
) -> Result:
    """Train on a CSV (bytes, or a stream read once in blocks) of the dataset the settings
    name, or of ``spec`` if given. Raises ``InputError`` for anything wrong with the data
    or settings. ``size`` is the stream's length as read (the compressed size of a .gz): a
    person watching on a terminal (``linreg.progress``) sees how much of it is read.

    A succeeded run has params.json, params.nd, model.sql, report.json, report.html and
    loss.png (and loss_history.json when the curve is too long for the report); a diverged
    run has report.json alone, so it can never be mistaken for a model. Past ``deadline`` it stops
    with a ``timeout`` error saying how far it got. ``cost`` tells what the run has cost so
    far (``linreg.cost``), asked just before the report is written.
    """
    deadline = deadline or Deadline()
    if isinstance(csv, bytes):
        size = len(csv)
        csv = io.BytesIO(csv)
    with progress.for_run(total_bytes=size, iterations=hyperparameters.iterations) as shown:
        started = time.perf_counter()
        stream = _TimedReader(csv, on_read=shown.read if shown else None)
        try:
            table = data.load(
                stream,
                spec=spec or spec_named(hyperparameters.dataset),
                test_size=hyperparameters.test_size,
                split_seed=hyperparameters.split_seed,
                max_bytes=max_bytes,
                deadline=deadline,
                on_rows=shown.parsed if shown else None,
            )
        except RunError as error:
            if error.code == "timeout":
                error.details["bytes_read"] = stream.bytes
            raise
        timings = {
            "read_seconds": stream.seconds,
            "parse_seconds": time.perf_counter() - started - stream.seconds,
        }
        return train(
            table,
            hyperparameters,
            source=source,
            run_id=run_id,
            on_iteration=_both(on_iteration, shown.trained if shown else None),
            deadline=deadline,
            timings=timings,
            cost=cost,
        )


def train(
    table: data.Dataset,
    hyperparameters: Hyperparameters,
    *,
    source: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    deadline: Deadline | None = None,
    timings: dict[str, float] | None = None,
    execution: dict | None = None,
    cost: Callable[[], dict] | None = None,
) -> Result:
    """Train on a file's statistics (and rows, if kept), as read by ``run`` or summed from
    parts (``linreg.training.parts``), and make the run's report and files (``cost``: as
    ``run``'s)."""
    deadline = deadline or Deadline()
    deadline.expect(
        training_seconds(
            engine=hyperparameters.engine,
            iterations=hyperparameters.iterations,
            rows=table.train.n,
            n_features=len(table.spec.features),
        ),
        f"training with the {hyperparameters.engine} engine on {table.train.n:,} rows",
    )
    parsed = time.perf_counter()
    scaling = Scaling.of(table.train) if hyperparameters.standardize else None
    train_stats = scaling.stats(table.train) if scaling else table.train
    rate = hyperparameters.learning_rate
    if rate is None:
        # Automatic: three quarters of the stability limit 2 / curvature.
        rate = 1.5 / curvature(train_stats, hyperparameters.loss)
        hyperparameters = replace(hyperparameters, learning_rate=rate)
    fitted = model.train(
        _loss(table, train_stats, scaling, hyperparameters),
        n_features=len(table.spec.features),
        learning_rate=rate,
        iterations=hyperparameters.iterations,
        seed=hyperparameters.seed,
        tolerance=hyperparameters.tolerance,
        on_iteration=on_iteration,
        deadline=deadline,
    )
    training = _in_original_units(fitted, scaling)
    trained = time.perf_counter()
    status = Status.DIVERGED if training.diverged else Status.SUCCEEDED
    succeeded = status == Status.SUCCEEDED
    document = report.run_report(
        status=status,
        hyperparameters=hyperparameters,
        data=table,
        training=training,
        baseline=baseline(table.train, table.test),
        standardization=(
            report.standardization(scaling, fitted, table.spec.features) if scaling else None
        ),
        timings={**(timings or {}), "train_seconds": trained - parsed},
        source=source,
        run_id=run_id,
    )
    # How the run was computed: in one pass, or from a state machine's parts.
    document["execution"] = execution or {"mode": "single", "parts": 1}
    if not succeeded:
        error = RunStopped("diverged", divergence_message(training.loss_history))
        document["error"] = error.as_dict()
        document["cost"] = cost() if cost else None
        return Result(status, document, {REPORT_FILE: to_json(document)}, error)
    return Result(
        status, document, _model_files(document, training, hyperparameters, table, cost=cost)
    )


def _model_files(
    document: Report,
    training: model.Training,
    hyperparameters: Hyperparameters,
    table: data.Dataset,
    *,
    cost: Callable[[], dict] | None,
) -> dict[str, bytes]:
    """A succeeded run's files: the model in three formats (JSON, MXNet, SQL), the report,
    the curve, the page."""
    spec = table.spec
    params = report.model_params(
        training, hyperparameters, model.versions(), document["standardization"], spec
    )
    figures = _figures(document, training, hyperparameters, table)
    # After the figures, the slowest part of a small run; before the page, which shows it.
    document["cost"] = cost() if cost else None
    files = {
        REPORT_FILE: to_json(document),
        PARAMS_FILE: to_json(params),
        PARAMS_ND_FILE: model.params_nd(training),
        MODEL_SQL_FILE: model_sql.render(params),
        LOSS_FIGURE_FILE: figures.loss,
        REPORT_HTML_FILE: report_html.render(document, figures),
    }
    if "loss_history_file" in document:
        files[LOSS_HISTORY_FILE] = to_json(report.loss_history(training.loss_history))
    return files


def _figures(
    document: Report,
    training: model.Training,
    hyperparameters: Hyperparameters,
    table: data.Dataset,
) -> report_html.Figures:
    spec = table.spec
    iterations, losses = report.loss_points(training.loss_history)
    # The loss gradient descent minimises, at the least-squares optimum: its floor.
    optimum = document["baseline_train_mse"] * (
        1 if hyperparameters.loss == "mean" else table.train.n
    )
    actual, predicted = report.fit_points(table.test_sample, training)
    features = list(spec.features)
    trained = document["params"]
    if trained is None:
        raise ValueError("only a succeeded run, with its parameters, has figures")
    return report_html.Figures(
        loss=figures.loss_plot(
            losses,
            loss=hyperparameters.loss,
            iterations=iterations,
            optimum=optimum,
            unit=spec.unit,
        ),
        fit=figures.fit_plot(actual, predicted, target=spec.target, unit=spec.unit)
        if _drawable(actual, predicted)
        else None,
        weights=figures.weights_plot(
            features,
            [trained["weights"][name] for name in features],
            [document["baseline_params"]["weights"][name] for name in features],
            target=spec.target,
            unit=spec.unit,
        ),
    )


def _drawable(actual, predicted) -> bool:
    # Axes need finite ranges: spreads near the float limit overflow when measured.
    if len(actual) == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        spreads = [np.ptp(values) for values in (actual, predicted, actual - predicted)]
    return bool(np.isfinite(spreads).all())


def _loss(
    table: data.Dataset,
    train_stats: Stats,
    scaling: Scaling | None,
    hyperparameters: Hyperparameters,
) -> model.LossFunction:
    if hyperparameters.engine == "statistics":
        return model.statistics_loss(train_stats, hyperparameters.loss)
    if table.rows is None:
        raise InputError(
            "invalid_hyperparameters",
            f"the tutorial engine needs the rows in memory, kept only up to "
            f"{data.EXACT_SPLIT_MAX_ROWS:,} rows; this file has {table.total_rows:,}",
        )
    X = table.rows.X_train
    return model.tutorial_loss(
        scaling.rows(X) if scaling else X, table.rows.y_train, hyperparameters.loss
    )


def _in_original_units(training: model.Training, scaling: Scaling | None) -> model.Training:
    """Weights for raw features: what predictions and the report use."""
    if scaling is None:
        return training
    theta = scaling.to_original(training.theta).reshape(-1)
    return replace(training, weights=theta[:-1], bias=float(theta[-1]))


def _both(
    first: Callable[[int, float], None] | None, second: Callable[[int, float], None] | None
) -> Callable[[int, float], None] | None:
    """One callback calling both given, in turn; None if neither is."""
    if first is None or second is None:
        return first or second

    def both(iteration: int, loss: float) -> None:
        first(iteration, loss)
        second(iteration, loss)

    return both


class _TimedReader:
    """Counts the bytes read and the seconds spent waiting for them (the download, for an
    S3 stream), and tells ``on_read`` the bytes so far."""

    def __init__(self, stream: Readable, on_read: Callable[[int], None] | None = None) -> None:
        self.stream, self.seconds, self.bytes = stream, 0.0, 0
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        started = time.perf_counter()
        try:
            data = self.stream.read(size)
        finally:
            self.seconds += time.perf_counter() - started
        self.bytes += len(data)
        if self.on_read is not None:
            self.on_read(self.bytes)
        return data


def divergence_message(loss_history: list[float]) -> str:
    return (
        f"training diverged at iteration {len(loss_history)}: the loss went from "
        f"{loss_history[0]:.4g} to {loss_history[-1]:.4g}; train with preset converged "
        "(standardized features, a learning rate of its own), or lower the learning rate"
    )
