"""Lambda entry point: each S3 record → train → publish the run or record the failure.

A thin shell: the steps live in ``storage`` and ``pipeline``. Input problems are recorded
under ``failures/`` and return normally (a retry would fail the same way); S3 and other
unexpected errors raise, so Lambda retries the event. Every record is safe to process
twice, even concurrently: the run id is derived from the object version and settings.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Mapping
from contextlib import closing, nullcontext

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from linreg import pipeline, storage
from linreg.config import Hyperparameters, env_settings, max_input_bytes, metadata_settings
from linreg.errors import InputError
from linreg.event import S3Record, s3_records
from linreg.storage import InputObject, Layout

logger = Logger(service="linreg")
metrics = Metrics(namespace="Linreg", service="linreg")


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


def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    outcomes = handle_event(event, s3=s3_client(), env=os.environ)
    publish_metrics(outcomes)
    return {"outcomes": outcomes}


def handle_event(event: dict, *, s3, env: Mapping[str, str]) -> list[dict]:
    """One outcome per S3 record, in order."""
    layout = Layout.from_env(env)
    settings = env_settings(env)
    max_bytes = max_input_bytes(env)
    outcomes = []
    for record in s3_records(event):
        logger.append_keys(bucket=record.bucket, input_key=record.key)
        outcomes.append(
            handle_record(record, s3=s3, layout=layout, settings=settings, max_bytes=max_bytes)
        )
    logger.remove_keys(["bucket", "input_key"])
    return outcomes


def handle_record(
    record: S3Record, *, s3, layout: Layout, settings: dict[str, str], max_bytes: int
) -> dict:
    """Train on one uploaded object; returns what happened, for logs, metrics and the CLI."""
    outcome = {"bucket": record.bucket, "key": record.key}
    name = layout.model_name(record.key)
    if name is None:
        # Only incoming/*.csv(.gz) is ours; anything else means a misconfigured trigger.
        logger.warning("skipping key outside the upload prefix")
        return {**outcome, "status": "skipped", "reason": f"not {layout.incoming}*.csv"}

    try:
        upload = storage.describe_input(
            s3,
            record.bucket,
            record.key,
            version_id=record.version_id,
            sequencer=record.sequencer,
            max_bytes=max_bytes,
        )
    except InputError as error:
        # Not readable: the event's own ETag and time identify the attempt.
        run_id = storage.run_id(
            etag=record.etag or "",
            version_id=record.version_id,
            last_modified=record.event_time,
            settings=settings,
        )
        source = {
            **outcome,
            "etag": record.etag,
            "version_id": record.version_id,
            "size": record.size,
        }
        return fail(
            s3,
            layout.failure_key(name, run_id),
            outcome,
            run_id,
            error,
            source=source,
            settings=settings,
        )

    # Settings given with the upload override the deployment's (README: precedence).
    settings = {**settings, **metadata_settings(upload.metadata)}
    run_id = storage.run_id(
        etag=upload.etag,
        version_id=upload.version_id,
        last_modified=upload.last_modified,
        settings=settings,
    )
    outcome["run_id"] = run_id
    logger.append_keys(run_id=run_id)
    try:
        return train_and_publish(s3, layout, name, upload, outcome, settings, max_bytes)
    finally:
        logger.remove_keys(["run_id"])


def train_and_publish(
    s3,
    layout: Layout,
    name: str,
    upload: InputObject,
    outcome: dict,
    settings: dict[str, str],
    max_bytes: int,
) -> dict:
    prefix = layout.run_prefix(name, outcome["run_id"])
    failure_key = layout.failure_key(name, outcome["run_id"])
    latest_key = layout.latest_key(name)
    # The download starts with the two checks, a round trip saved; a duplicate closes it.
    (published, _), (failure, _), body = storage.concurrently(
        lambda: storage.read_json(s3, upload.bucket, prefix + "report.json"),
        lambda: storage.read_json(s3, upload.bucket, failure_key),
        lambda: storage.open_body(s3, upload),
    )
    with closing(body) if body is not None else nullcontext():
        if published is not None:
            # The delivery that published it may have failed before moving latest.json.
            pointer = latest_pointer(outcome["run_id"], prefix, published)
            moved = storage.update_latest(s3, upload.bucket, latest_key, pointer)
            logger.info("run already published; duplicate delivery", extra={"latest_moved": moved})
            return {
                **outcome,
                "status": "succeeded",
                "prefix": prefix,
                "duplicate": True,
                "latest_moved": moved,
            }
        if failure is not None:
            logger.info("run already failed; duplicate delivery")
            return {
                **outcome,
                "status": failure["status"],
                "failure_key": failure_key,
                **failure["error"],
                "duplicate": True,
            }
        if body is None:
            # Overwritten between HEAD and GET: the newer version has its own event.
            logger.info("upload replaced before it was read; its own event will train it")
            return {**outcome, "status": "skipped", "reason": "replaced by a newer upload"}
        try:
            result = pipeline.run(
                body,
                Hyperparameters.from_strings(settings),
                source=upload.source(),
                run_id=outcome["run_id"],
                max_bytes=max_bytes,
            )
        except InputError as error:
            return fail(
                s3,
                failure_key,
                outcome,
                outcome["run_id"],
                error,
                source=upload.source(),
                settings=settings,
            )
    if result.status != pipeline.SUCCEEDED:
        return fail(
            s3,
            failure_key,
            outcome,
            outcome["run_id"],
            InputError(**result.report["error"]),
            source=upload.source(),
            settings=settings,
            report=result.report,
        )

    report = result.report
    summary = {
        **outcome,
        "status": result.status,
        "prefix": prefix,
        "test_mse": report["test_mse"],
        "rows": report["rows"]["total"],
    }
    started = time.perf_counter()
    # latest.json is read while the run's files are written, a round trip saved; if it
    # changes meanwhile, the compare-and-swap in update_latest notices and reads it again.
    published, latest = storage.concurrently(
        lambda: storage.publish_run(s3, upload.bucket, prefix, result.files),
        lambda: storage.read_json(s3, upload.bucket, latest_key),
    )
    summary["timings"] = {**report["timings"], "write_seconds": time.perf_counter() - started}
    if not published:
        logger.info("another delivery published this run first")
        return {**summary, "duplicate": True}
    pointer = latest_pointer(outcome["run_id"], prefix, report)
    moved = storage.update_latest(s3, upload.bucket, latest_key, pointer, known=latest)
    logger.info("published", extra={"prefix": prefix, "latest_moved": moved})
    return {**summary, "latest_moved": moved}


def latest_pointer(run_id: str, prefix: str, report: dict) -> dict:
    """What latest.json says of a run: where it is, how good, and which upload it trained on."""
    return {
        "run_id": run_id,
        "prefix": prefix,
        "test_mse": report["test_mse"],
        "input": report["input"],
    }


def fail(
    s3,
    key: str,
    outcome: dict,
    run_id: str,
    error: InputError,
    *,
    source: dict,
    settings: dict,
    report: dict | None = None,
) -> dict:
    """Record a run that cannot succeed; a redelivery finds the record and stops there."""
    status = pipeline.DIVERGED if error.code == "diverged" else pipeline.FAILED
    record = {
        "status": status,
        "run_id": run_id,
        "error": error.as_dict(),
        "input": source,
        "settings": settings,
        "report": report,
    }
    first = storage.record_failure(s3, outcome["bucket"], key, record)
    logger.warning(
        "run failed", extra={"code": error.code, "error": error.message, "failure_key": key}
    )
    result = {**outcome, "status": status, "run_id": run_id, "failure_key": key, **error.as_dict()}
    return result if first else {**result, "duplicate": True}


def publish_metrics(outcomes: list[dict]) -> None:
    """CloudWatch embedded-format metrics: one log line, no API call, no extra latency."""
    counts = {"succeeded": "RunsSucceeded", "failed": "RunsFailed", "diverged": "RunsDiverged"}
    for outcome in outcomes:
        if outcome["status"] not in counts or outcome.get("duplicate"):
            continue
        metrics.add_metric(name=counts[outcome["status"]], unit=MetricUnit.Count, value=1)
        if outcome["status"] == "succeeded":
            metrics.add_metric(name="RowsTrained", unit=MetricUnit.Count, value=outcome["rows"])
            metrics.add_metric(name="TestMSE", unit=MetricUnit.NoUnit, value=outcome["test_mse"])
            metrics.add_metric(
                name="TrainingSeconds",
                unit=MetricUnit.Seconds,
                value=outcome["timings"]["train_seconds"],
            )
    if metrics.metric_set:
        metrics.flush_metrics()


def s3_client():
    """One client per endpoint and region, reused across warm invocations."""
    return _client(
        os.environ.get("AWS_ENDPOINT_URL_S3"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@functools.cache
def _client(endpoint_url: str | None, region: str | None):
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
