"""Lambda entry point: each S3 record of the event → ``upload.process`` → logs and metrics.

A thin shell around the library: ``runs`` carries the run protocol (duplicates, publish,
failure records). An input problem ends its record normally; S3 and other unexpected
errors raise, so Lambda retries the event.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from linreg import cpus
from linreg.config import Limits, env_settings
from linreg.contract import METRICS_NAMESPACE, SERVICE_NAME, STEP_FIELD, Metric, Status
from linreg.deadline import Deadline
from linreg.payloads import RunPayload
from linreg.service import distributed_run, distributed_steps, predictions, scale_out, upload
from linreg.service.attempt import Outcome
from linreg.service.completion import Completion
from linreg.service.event import s3_records
from linreg.service.layout import Layout

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def seed_font_cache(env: Mapping[str, str]) -> None:
    """Copy the font list built into the image (LINREG_FONT_CACHE) to matplotlib's cache.

    matplotlib reads its cache only from a writable folder, which in Lambda is an empty
    /tmp at every cold start: without the copy it builds the list again each time. If the
    copy fails, matplotlib still builds its own.
    """
    seed, cache = env.get("LINREG_FONT_CACHE"), env.get("MPLCONFIGDIR")
    if seed and cache and os.path.isdir(seed):
        try:
            shutil.copytree(seed, cache, dirs_exist_ok=True)
        except OSError as error:
            logger.warning("font cache not copied", extra={"error": str(error)})


seed_font_cache(os.environ)
# What this function's CPUs are, once per cold start (the parse runs a thread per CPU).
logger.info("cpus", extra=cpus.seen())


def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    if STEP_FIELD in event:
        return step(event, s3=s3_client(), env=os.environ, deadline=deadline_of(context))
    if scale_out.is_execution_end(event):
        return execution_ended(event, s3=s3_client(), env=os.environ)
    outcomes = process_event(event, s3=s3_client(), env=os.environ, deadline=deadline_of(context))
    publish_metrics(outcomes)
    return {"outcomes": [outcome.as_dict() for outcome in outcomes]}


def deadline_of(context: object) -> Deadline:
    """The invocation's deadline, some seconds before Lambda's own (none outside Lambda)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return Deadline.for_remaining(remaining() / 1000) if remaining else Deadline()


def handle_event(
    event: dict, *, s3: S3Client, env: Mapping[str, str], deadline: Deadline | None = None
) -> list[dict]:
    """The outcomes Lambda's response lists for an event, one per S3 record, in order."""
    outcomes = process_event(event, s3=s3, env=env, deadline=deadline or Deadline())
    return [outcome.as_dict() for outcome in outcomes]


def process_event(
    event: dict, *, s3: S3Client, env: Mapping[str, str], deadline: Deadline
) -> list[Outcome]:
    """One outcome per S3 record, in order, with the deployment's layout, settings and
    limits, all before ``deadline``."""
    layout = Layout.from_env(env)
    settings = env_settings(env)
    limits = Limits.from_env(env)
    completion = Completion.from_env(env, events=events_client)
    outcomes = []
    for record in s3_records(event):
        where = record.where()
        logger.append_keys(bucket=where["bucket"], input_key=where["key"])
        if record.problem is not None:
            # A retry would find the same record: skipped, as S3's test event is.
            logger.warning("skipping a malformed S3 record", extra={"problem": record.problem})
            outcomes.append(
                Outcome(
                    bucket=where["bucket"],
                    key=where["key"],
                    status=Status.SKIPPED,
                    reason=record.problem,
                )
            )
            continue
        if record.key.startswith(layout.predict):
            outcomes.append(
                predictions.process(s3, record, layout=layout, limits=limits, deadline=deadline)
            )
            continue
        outcomes.append(
            upload.process(
                s3,
                record,
                layout=layout,
                settings=settings,
                limits=limits,
                deadline=deadline,
                env=env,
                sfn=sfn_client,
                completion=completion,
            )
        )
    logger.remove_keys(["bucket", "input_key"])
    return outcomes


def execution_ended(event: dict, *, s3: S3Client, env: Mapping[str, str]) -> dict:
    """An execution of the state machine ended unfinished: its run's failure record (once,
    whichever of this and the fail step comes first). An event about anything else (another
    state machine, a name the function never gave) is skipped."""
    layout = Layout.from_env(env)
    run = scale_out.unfinished_run(event, env=env, layout=layout)
    if run is None:
        logger.warning("skipping an execution event that is not one of this function's runs")
        return {"status": Status.SKIPPED, "reason": "not an execution of this function's runs"}
    completion = Completion.from_env(env, events=events_client)
    outcome = distributed_run.fail_distributed(s3, run, layout=layout, completion=completion)
    publish_metrics([outcome])
    return outcome.as_dict()


def step(
    event: dict, *, s3: S3Client, env: Mapping[str, str], deadline: Deadline | None = None
) -> dict:
    """A step of the scale-out state machine: its result. The steps' work is
    ``linreg.service.distributed_run`` (the run's bookkeeping) and ``distributed_steps``."""
    layout = Layout.from_env(env)
    limits = Limits.from_env(env)
    completion = Completion.from_env(env, events=events_client)
    name = event[STEP_FIELD]
    if name == "plan":
        # The plan step is given the run's payload itself, with the step's name.
        run = cast(RunPayload, event)
        planned, refused = distributed_run.plan_distributed(
            s3, run, layout=layout, env=env, limits=limits, completion=completion
        )
        if refused is not None:
            publish_metrics([refused])
        return planned
    if name == "part":
        return distributed_steps.part(s3, event["item"], deadline=deadline)
    if name == "reduce":
        outcome = distributed_run.finish_distributed(
            s3,
            event["run"],
            layout=layout,
            env=env,
            limits=limits,
            deadline=deadline,
            completion=completion,
        )
    elif name == "fail":
        outcome = distributed_run.fail_distributed(
            s3, event["run"], layout=layout, completion=completion
        )
    else:
        raise ValueError(f"unknown step {name!r}")
    publish_metrics([outcome])
    return outcome.as_dict()


def publish_metrics(outcomes: list[Outcome]) -> None:
    """CloudWatch embedded-format metrics: one log line, no API call, no extra latency."""
    counts = {
        Status.SUCCEEDED: Metric.RUNS_SUCCEEDED,
        Status.FAILED: Metric.RUNS_FAILED,
        Status.DIVERGED: Metric.RUNS_DIVERGED,
    }
    for outcome in outcomes:
        if outcome.event_sent is False:
            metrics.add_metric(name=Metric.EVENTS_NOT_SENT, unit=MetricUnit.Count, value=1)
        if outcome.status not in counts or outcome.duplicate:
            continue
        if isinstance(outcome, predictions.PredictionOutcome):
            scored = outcome.status == Status.SUCCEEDED
            written = Metric.PREDICTIONS_WRITTEN if scored else Metric.PREDICTIONS_FAILED
            metrics.add_metric(name=written, unit=MetricUnit.Count, value=1)
            continue
        metrics.add_metric(name=counts[outcome.status], unit=MetricUnit.Count, value=1)
        if outcome.status == Status.SUCCEEDED:
            metrics.add_metric(
                name=Metric.ROWS_TRAINED, unit=MetricUnit.Count, value=outcome.rows or 0
            )
            metrics.add_metric(
                name=Metric.TEST_MSE, unit=MetricUnit.NoUnit, value=outcome.test_mse or 0.0
            )
            metrics.add_metric(
                name=Metric.TRAINING_SECONDS,
                unit=MetricUnit.Seconds,
                value=outcome.timings["train_seconds"],
            )
    if metrics.metric_set:
        metrics.flush_metrics()
        # With metrics disabled (the CLI), flush keeps them: they would pile up and come
        # out with a later invocation's.
        metrics.clear_metrics()


def sfn_client():
    """The Step Functions client, made only when a run is handed to the state machine."""
    return boto3.client("stepfunctions", region_name=os.environ.get("AWS_REGION"))


def events_client():
    """The EventBridge client, made only when a run's completion event is put."""
    return _events(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


@functools.cache
def _events(region: str | None):
    return boto3.client("events", region_name=region)


def s3_client():
    """One client per endpoint and region, reused across warm invocations."""
    return _client(
        os.environ.get("AWS_ENDPOINT_URL_S3"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@functools.cache
def _client(endpoint_url: str | None, region: str | None):
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)


def forget_clients() -> None:
    """Make the next S3 client afresh: one made before an emulator started (or for the
    endpoint it replaced) would not reach it. For local runs and tests; Lambda never needs
    it."""
    _client.cache_clear()
    _events.cache_clear()
