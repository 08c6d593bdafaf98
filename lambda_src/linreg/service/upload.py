"""One uploaded object's run, from its S3 record to a published model or a failure record.

S3 delivers each event at least once, sometimes twice at the same moment, so every step
here is safe to repeat. The run id is derived from the object version and the settings;
a run that already has a report.json (published) or a failure record is not trained again.
How a run is published or recorded is ``attempt``'s; a large upload or a manifest is
handed to the state machine (``scale_out``), whose runs ``distributed_run`` finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from linreg.config import Hyperparameters, Limits, metadata_settings
from linreg.contract import SERVICE_NAME, Status
from linreg.deadline import Deadline
from linreg.errors import InputError, RunError
from linreg.payloads import RunPayload
from linreg.service import scale_out, storage
from linreg.service.attempt import Attempt, Outcome
from linreg.service.completion import Completion
from linreg.service.event import S3Record
from linreg.service.layout import Layout, run_id_for
from linreg.service.storage import InputObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Logs through the handler's logger (same format, same request and key fields).
logger = Logger(service=SERVICE_NAME, child=True)


def process(
    s3: S3Client,
    record: S3Record,
    *,
    layout: Layout,
    settings: dict[str, str],
    limits: Limits | None = None,
    deadline: Deadline | None = None,
    env: Mapping[str, str] | None = None,
    sfn: Callable[[], object] | None = None,
    completion: Completion | None = None,
) -> Outcome:
    """Train on the object one record names, once, and publish or record the result, all
    within ``limits`` and before ``deadline``. With a state machine in ``env`` (scale-out),
    a large upload or a manifest is handed to it instead (``sfn`` makes its client).
    ``completion``: the deployment's promotion rule, cost meter and completion events."""
    env = env or {}
    completion = completion or Completion()
    limits, deadline = limits or Limits(), deadline or Deadline()
    where = {"bucket": record.bucket, "key": record.key}
    name = layout.model_name(record.key)
    if name is None:
        # Only incoming/*.csv(.gz) is ours; anything else means a misconfigured trigger.
        logger.warning("skipping key outside the upload prefix")
        return Outcome(
            bucket=record.bucket,
            key=record.key,
            status=Status.SKIPPED,
            reason=f"not {layout.incoming}*.csv, *.csv.gz or *.manifest.json",
        )
    # Until the object is described, the event's own ETag and time identify the attempt.
    event_run_id = run_id_for(
        etag=record.etag or "",
        version_id=record.version_id,
        last_modified=record.event_time,
        settings=settings,
    )
    event_source = {
        **where,
        "etag": record.etag,
        "version_id": record.version_id,
        "size": record.size,
    }
    problem = layout.name_problem(name, key=record.key)
    if problem is not None:
        failure_key = layout.quarantine_key(record.key, event_run_id)
        attempt = Attempt(
            s3, layout, name, event_run_id, where, event_source, failure_key, completion
        )
        return attempt.fail(InputError("bad_key", problem), settings=settings)
    try:
        upload = storage.describe_input(
            s3, record.bucket, record.key, version_id=record.version_id, sequencer=record.sequencer
        )
        distributed = scale_out.goes_distributed(upload, env)
        if not distributed:
            scale_out.check_trainable_here(upload)
            storage.check_size(upload, limits.max_input_bytes)
    except RunError as error:
        attempt = Attempt(
            s3, layout, name, event_run_id, where, event_source, completion=completion
        )
        return attempt.fail(error, settings=settings)

    # Settings given with the upload override the deployment's (docs/reference.md).
    uploaded = metadata_settings(upload.metadata)
    settings = {**settings, **uploaded}
    run_id = run_id_for(
        etag=upload.etag,
        version_id=upload.version_id,
        last_modified=upload.last_modified,
        settings=settings,
    )
    if distributed:
        try:
            limits.check_upload_settings(uploaded)
            hyperparameters = Hyperparameters.from_strings(settings)
            limits.check(hyperparameters)
            scale_out.check_distributable(upload, hyperparameters, limits)
        except RunError as error:
            attempt = Attempt(
                s3, layout, name, run_id, where, upload.source(), completion=completion
            )
            return attempt.fail(error, settings=settings)
        run = _run(upload, name, run_id, settings)
        return _start(s3, sfn() if sfn else None, env, layout, where, run)
    logger.append_keys(run_id=run_id)
    try:
        attempt = Attempt(s3, layout, name, run_id, where, upload.source(), completion=completion)
        return attempt.train_and_publish(
            upload, settings, uploaded=uploaded, limits=limits, deadline=deadline
        )
    finally:
        logger.remove_keys(["run_id"])


def _run(upload: InputObject, name: str, run_id: str, settings: dict) -> RunPayload:
    """A distributed run's execution input: what every step is given."""
    return {
        "bucket": upload.bucket,
        "key": upload.key,
        "version_id": upload.version_id,
        "etag": upload.etag,
        "size": upload.size,
        "run_id": run_id,
        "name": name,
        "settings": settings,
        "source": upload.source(),
    }


def _start(s3: S3Client, sfn, env, layout: Layout, where: dict, run: RunPayload) -> Outcome:
    """Hand the run to the state machine; a duplicate delivery finds it started."""
    arn = scale_out.state_machine(env)
    assert arn is not None, "only a deployment with a state machine hands runs to it"
    started = scale_out.start(sfn, arn, run, s3=s3, layout=layout)
    logger.info("handed to the state machine", extra={"run_id": run["run_id"], "started": started})
    return Outcome(**where, status=Status.STARTED, run_id=run["run_id"], duplicate=not started)
