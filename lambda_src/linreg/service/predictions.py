"""One upload to score: ``predict/<name>/<file>.csv`` through model ``<name>``'s latest run
(or the run its ``run-id`` metadata names) → ``predictions/<name>/<file>.csv``, the rows
with a ``predicted_<target>`` column, as ``linreg predict`` writes them.

As a training run's, every step is safe to repeat and to race. A job's id comes from the
upload's version and what it asks for (``run_id_for``), and the predictions object carries
its provenance in its S3 metadata (``provenance``): a redelivery finds its own job there, or
its failure record, and stops. The object is written by compare-and-swap on its ETag, and
only over the predictions of an older upload of the same key (``storage.is_newer``), so a
late older upload never replaces a newer one's. A problem with the input is recorded under
the failures prefix (``Layout.prediction_failure_key``, never among a model's runs) and ends
the job normally; S3 and other unexpected errors raise, so Lambda retries the event.
"""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from linreg.config import Limits
from linreg.contract import SERVICE_NAME, Status
from linreg.deadline import Deadline, parsing_seconds
from linreg.errors import InputError, RunError
from linreg.service import published, storage
from linreg.service.attempt import Outcome
from linreg.service.event import S3Record
from linreg.service.layout import Layout, PredictionJob, run_id_for
from linreg.service.storage import InputObject
from linreg.training.predict import predict_stream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(service=SERVICE_NAME, child=True)

# The upload's metadata key that names the model's run to use (else latest.json's).
RUN_ID_METADATA = "run-id"
# The scored rows stay in memory up to this size, then spill to a file in /tmp.
SPOOL_BYTES = 64 << 20


@dataclass(frozen=True, kw_only=True)
class PredictionOutcome(Outcome):
    """What became of one upload to score: an ``Outcome``, with the job's own keys."""

    job_id: str | None = None
    model: str | None = None
    model_run_id: str | None = None
    predictions_key: str | None = None  # a succeeded job's output

    def as_dict(self) -> dict:
        values = {
            "job_id": self.job_id,
            "model": self.model,
            "model_run_id": self.model_run_id,
            "predictions_key": self.predictions_key,
        }
        return {
            **super().as_dict(),
            "kind": "prediction",
            **{name: value for name, value in values.items() if value is not None},
        }


def process(
    s3: S3Client,
    record: S3Record,
    *,
    layout: Layout,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
) -> PredictionOutcome:
    """Score the upload one record names, once, within ``limits`` and before
    ``deadline``, and write its predictions or its failure record."""
    limits, deadline = limits or Limits(), deadline or Deadline()
    where: dict[str, Any] = {"bucket": record.bucket, "key": record.key}
    job = layout.prediction_job(record.key)
    if job is None:
        logger.warning("skipping key under the predict prefix that is not a CSV")
        return PredictionOutcome(
            **where,
            status=Status.SKIPPED,
            reason=f"not {layout.predict}<model>/*.csv or *.csv.gz",
        )
    # Until the object is described, the event's own ETag and time identify the job.
    event_job_id = run_id_for(
        etag=record.etag or "",
        version_id=record.version_id,
        last_modified=record.event_time,
        settings={},
    )
    event_source = {**where, "etag": record.etag, "version_id": record.version_id}
    problem = layout.prediction_problem(job, key=record.key)
    if problem is not None:
        failure_key = layout.quarantine_key(record.key, event_job_id)
        error = InputError("bad_key", problem)
        return _Job(s3, layout, job, event_job_id, where).fail(error, event_source, failure_key)
    try:
        upload = storage.describe_input(
            s3, record.bucket, record.key, version_id=record.version_id, sequencer=record.sequencer
        )
    except RunError as error:
        return _Job(s3, layout, job, event_job_id, where).fail(error, event_source)
    requested = upload.metadata.get(RUN_ID_METADATA) or None
    job_id = run_id_for(
        etag=upload.etag,
        version_id=upload.version_id,
        last_modified=upload.last_modified,
        settings={RUN_ID_METADATA: requested},
    )
    logger.append_keys(job_id=job_id)
    try:
        return _Job(s3, layout, job, job_id, where).run(
            upload, requested, limits=limits, deadline=deadline
        )
    finally:
        logger.remove_keys(["job_id"])


@dataclass(frozen=True)
class _Job:
    """One delivery's attempt at one prediction job."""

    s3: S3Client
    layout: Layout
    job: PredictionJob
    job_id: str
    where: dict

    @property
    def output_key(self) -> str:
        return self.layout.prediction_key(self.job)

    @property
    def failure_key(self) -> str:
        return self.layout.prediction_failure_key(self.job, self.job_id)

    def outcome(self, status: Status, **details: Any) -> PredictionOutcome:
        return PredictionOutcome(
            **self.where, status=status, job_id=self.job_id, model=self.job.model, **details
        )

    def run(
        self, upload: InputObject, requested: str | None, *, limits: Limits, deadline: Deadline
    ) -> PredictionOutcome:
        s3, bucket = self.s3, upload.bucket
        current, (failure, _) = storage.concurrently(
            lambda: storage.head(s3, bucket, self.output_key),
            lambda: storage.read_json(s3, bucket, self.failure_key),
        )
        done = self.already_done(current, failure, upload)
        if done is not None:
            return done
        started = time.perf_counter()
        try:
            storage.check_size(upload, limits.max_input_bytes)
            run_id, params = published.model_run(s3, bucket, self.layout, self.job.model, requested)
            body = storage.open_body(s3, upload)
            if body is None:
                # Overwritten between HEAD and GET: the newer version has its own event.
                return self.outcome(Status.SKIPPED, reason="replaced by a newer upload")
            deadline.expect(parsing_seconds(upload.size), "reading this upload and scoring it")
            with closing(body), tempfile.SpooledTemporaryFile(SPOOL_BYTES) as out:
                rows = _score(params, body, out, limits=limits, deadline=deadline)
                metadata = provenance(upload, job_id=self.job_id, run_id=run_id, rows=rows)
                written = self.write(out, metadata, known=current)
        except RunError as error:
            return self.fail(error, upload.source())
        timings = {"predict_seconds": time.perf_counter() - started}
        if written:
            logger.info("predictions written", extra={"predictions_key": self.output_key})
            return self.outcome(
                Status.SUCCEEDED,
                model_run_id=run_id,
                predictions_key=self.output_key,
                rows=rows,
                timings=timings,
            )
        # Another writer got there first: this job's other delivery, or a newer upload's.
        done = self.already_done(storage.head(s3, bucket, self.output_key), None, upload)
        return done or self.outcome(Status.SKIPPED, reason="another upload's predictions won")

    def already_done(
        self, current: Mapping[str, Any] | None, failure: dict | None, upload: InputObject
    ) -> PredictionOutcome | None:
        """This job's outcome when an earlier delivery wrote or recorded it, or a skip when a
        newer upload's predictions are there; ``None`` when the job has work to do."""
        theirs = (current or {}).get("Metadata") or {}
        if current is not None and theirs.get("job-id") == self.job_id:
            logger.info("predictions already written; duplicate delivery")
            return self.outcome(
                Status.SUCCEEDED,
                model_run_id=theirs.get("model-run-id"),
                predictions_key=self.output_key,
                duplicate=True,
            )
        if failure is not None:
            logger.info("prediction already failed; duplicate delivery")
            return self.outcome(
                Status(failure["status"]),
                failure_key=self.failure_key,
                error=InputError(**failure["error"]),
                duplicate=True,
            )
        if current is not None and not _is_newer(upload, theirs):
            logger.info("a newer upload's predictions are there already")
            return self.outcome(
                Status.SKIPPED, reason="the predictions of a newer upload are there already"
            )
        return None

    def write(
        self, out: IO[bytes], metadata: dict[str, str], *, known: Mapping[str, Any] | None
    ) -> bool:
        """Write the predictions unless this job's or a newer upload's are there: a
        compare-and-swap on the object's ETag (a first write only if absent)."""
        bucket = self.where["bucket"]

        def next_version(attempt: int):
            current = known if attempt == 0 else storage.head(self.s3, bucket, self.output_key)
            if current is not None and not _replaces(metadata, current.get("Metadata") or {}):
                return None, None
            return out, None if current is None else current["ETag"]

        return storage.swap(self.s3, bucket, self.output_key, next_version, Metadata=metadata)

    def fail(
        self, error: RunError, source: Mapping[str, Any], failure_key: str | None = None
    ) -> PredictionOutcome:
        """Record a job that cannot succeed; a redelivery finds the record and stops."""
        failure_key = failure_key or self.failure_key
        record = {
            "status": Status.FAILED,
            "job_id": self.job_id,
            "error": error.as_dict(),
            "input": dict(source),
            "model": self.job.model,
            "predictions_key": self.output_key,
        }
        first = storage.record_failure(self.s3, self.where["bucket"], failure_key, record)
        logger.warning(
            "prediction failed",
            extra={"code": error.code, "error": error.message, "failure_key": failure_key},
        )
        return self.outcome(
            Status.FAILED, failure_key=failure_key, error=error, duplicate=not first
        )


def _score(params: dict, body, out, *, limits: Limits, deadline: Deadline) -> int:
    """The upload's rows scored into ``out``; running out of room in /tmp is the upload's
    size problem, not a fault to retry."""
    try:
        return predict_stream(
            params,
            body,
            out,
            max_bytes=limits.max_input_bytes,
            each_block=lambda rows: deadline.check("scoring", rows_scored=rows),
        )
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise InputError(
            "too_large", "the predictions outgrow the function's temporary storage (/tmp)"
        ) from None


def provenance(upload: InputObject, *, job_id: str, run_id: str, rows: int) -> dict[str, str]:
    """The predictions object's S3 metadata (x-amz-meta-*, all ASCII): which upload version
    it scored, with which model run, as which job."""
    values = {
        "job-id": job_id,
        "model-run-id": run_id,
        "source-etag": upload.etag,
        "source-version-id": upload.version_id,
        "source-last-modified": upload.last_modified.isoformat(),
        "source-sequencer": upload.sequencer,
        "rows": str(rows),
    }
    return {name: value for name, value in values.items() if value}


def _order(metadata: Mapping[str, str]) -> dict:
    """A provenance as ``storage.is_newer`` compares uploads (always of the same key)."""
    return {
        "key": "",
        "last_modified": metadata.get("source-last-modified", ""),
        "sequencer": metadata.get("source-sequencer"),
    }


def _is_newer(upload: InputObject, theirs: Mapping[str, str]) -> bool:
    ours = {"source-last-modified": upload.last_modified.isoformat()}
    if upload.sequencer:
        ours["source-sequencer"] = upload.sequencer
    return _replaces(ours, theirs)


def _replaces(ours: Mapping[str, str], theirs: Mapping[str, str]) -> bool:
    """Whether predictions with provenance ``ours`` may replace ``theirs``: not the same
    job's, and from a newer upload (or one as new: the later-processed wins a tie)."""
    if ours.get("job-id") and ours.get("job-id") == theirs.get("job-id"):
        return False
    return storage.is_newer(_order(ours), _order(theirs))
