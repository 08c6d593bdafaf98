"""Lambda entry point: each S3 record → train → publish the run or record the failure.

A thin shell: the steps live in ``storage`` and ``pipeline``. Input problems are recorded
under ``failures/`` and return normally (a retry would fail the same way); S3 and other
unexpected errors raise, so Lambda retries the event.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

import boto3
from aws_lambda_powertools import Logger

from linreg import pipeline, storage
from linreg.config import Hyperparameters, env_settings
from linreg.errors import InputError
from linreg.event import S3Record, s3_records
from linreg.storage import Layout

logger = Logger(service="linreg")


def lambda_handler(event: dict, context: object) -> dict:
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    return {"outcomes": handle_event(event, s3=s3_client(), env=os.environ)}


def handle_event(event: dict, *, s3, env: Mapping[str, str]) -> list[dict]:
    """One outcome per S3 record, in order."""
    layout = Layout.from_env(env)
    settings = env_settings(env)
    return [
        handle_record(record, s3=s3, layout=layout, settings=settings)
        for record in s3_records(event)
    ]


def handle_record(record: S3Record, *, s3, layout: Layout, settings: dict[str, str]) -> dict:
    """Train on one uploaded object; returns what happened, for logs and the CLI."""
    outcome = {"bucket": record.bucket, "key": record.key}
    name = layout.model_name(record.key)
    if name is None:
        # Only incoming/*.csv is ours; anything else means a misconfigured trigger.
        logger.warning("skipping key outside the upload prefix", extra=outcome)
        return {**outcome, "status": "skipped", "reason": f"not {layout.incoming}*.csv"}

    try:
        upload = storage.read_input(s3, record.bucket, record.key, version_id=record.version_id)
    except InputError as error:
        # Gone before we read it: the event's own ETag and time identify the attempt.
        run_id = storage.run_id(
            etag=record.etag or "",
            version_id=record.version_id,
            last_modified=record.event_time,
            settings=settings,
        )
        source = {**outcome, "etag": record.etag, "version_id": record.version_id}
        return _fail(
            s3,
            layout.failure_key(name, run_id),
            outcome,
            run_id,
            error,
            source=source,
            settings=settings,
        )

    run_id = storage.run_id(
        etag=upload.etag,
        version_id=upload.version_id,
        last_modified=upload.last_modified,
        settings=settings,
    )
    logger.info("training", extra={**outcome, "run_id": run_id})
    try:
        hyperparameters = Hyperparameters.from_strings(settings)
        result = pipeline.run(upload.body, hyperparameters, source=upload.source(), run_id=run_id)
    except InputError as error:
        return _fail(
            s3,
            layout.failure_key(name, run_id),
            outcome,
            run_id,
            error,
            source=upload.source(),
            settings=settings,
        )
    if result.status != pipeline.SUCCEEDED:
        return _fail(
            s3,
            layout.failure_key(name, run_id),
            outcome,
            run_id,
            InputError(**result.report["error"]),
            source=upload.source(),
            settings=settings,
            report=result.report,
        )

    prefix = layout.run_prefix(name, run_id)
    storage.publish_run(s3, record.bucket, prefix, result.files)
    pointer = {
        "run_id": run_id,
        "prefix": prefix,
        "test_mse": result.report["test_mse"],
        "input": upload.source(),
    }
    moved = storage.update_latest(s3, record.bucket, layout.latest_key(name), pointer)
    logger.info("published", extra={**outcome, "prefix": prefix, "latest_moved": moved})
    return {
        **outcome,
        "status": result.status,
        "run_id": run_id,
        "prefix": prefix,
        "test_mse": result.report["test_mse"],
        "latest_moved": moved,
    }


def _fail(
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
    status = pipeline.DIVERGED if error.code == "diverged" else pipeline.FAILED
    record = {
        "status": status,
        "run_id": run_id,
        "error": error.as_dict(),
        "input": source,
        "settings": settings,
        "report": report,
    }
    storage.record_failure(s3, outcome["bucket"], key, record)
    logger.warning(
        "run failed",
        extra={**outcome, "code": error.code, "error": error.message, "failure_key": key},
    )
    return {**outcome, "status": status, "run_id": run_id, "failure_key": key, **error.as_dict()}


def s3_client():
    """One client per endpoint and region, reused across warm invocations."""
    return _client(
        os.environ.get("AWS_ENDPOINT_URL_S3"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@functools.cache
def _client(endpoint_url: str | None, region: str | None):
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
