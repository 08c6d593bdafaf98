"""One delivery's attempt at one run: what became of it (``Outcome``), and what it writes.

A run is published by writing its files, report.json last and only if absent, so exactly
one delivery wins; latest.json then moves by compare-and-swap, never back to an older
upload. A problem with the input is recorded under the failures prefix and ends the run
normally (a retry would fail the same way); S3 and other unexpected errors raise, so
Lambda retries the event. Every delivery that finds its run published or recorded, a
redelivery too, then rewrites the model's page (model_page); that step never fails a run.
Whether latest.json moves is also the deployment's promotion rule (``linreg.promotion``),
decided before report.json is written so the report can say; the run's end is announced
on EventBridge once (``completion``).
Used by both a single upload's run (``upload``) and a distributed one
(``distributed_run``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from linreg import pipeline
from linreg.config import Hyperparameters, Limits
from linreg.contract import EVENT_FILE, REPORT_FILE, SERVICE_NAME, Status
from linreg.deadline import Deadline, parsing_seconds, training_seconds
from linreg.errors import InputError, RunError
from linreg.jsonfile import to_json
from linreg.payloads import Report, Source
from linreg.service import completion, model_page, storage
from linreg.service.completion import Completion
from linreg.service.layout import Layout
from linreg.service.storage import InputObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Logs through the handler's logger (same format, same request and key fields).
logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What became of one S3 record: for logs, metrics, the CLI and Lambda's response."""

    bucket: str
    key: str
    status: Status
    run_id: str | None = None
    prefix: str | None = None  # a succeeded run's folder
    failure_key: str | None = None  # a failed or diverged run's record
    error: RunError | None = None
    reason: str | None = None  # why it was skipped
    duplicate: bool = False  # an earlier delivery had done it already
    latest_moved: bool | None = None
    page_written: bool | None = None  # the model's page was rewritten after the run
    event_sent: bool | None = None  # False: EventBridge did not take the completion event
    test_mse: float | None = None
    rows: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The outcome as Lambda's response lists it (and `linreg invoke` reads it)."""
        values = {
            "bucket": self.bucket,
            "key": self.key,
            "status": self.status,
            "run_id": self.run_id,
            "prefix": self.prefix,
            "failure_key": self.failure_key,
            **(self.error.as_dict() if self.error else {}),
            "reason": self.reason,
            "duplicate": self.duplicate or None,
            "latest_moved": self.latest_moved,
            "page_written": self.page_written,
            "event_sent": self.event_sent,
            "test_mse": self.test_mse,
            "rows": self.rows,
            "timings": self.timings or None,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Attempt:
    """One delivery's attempt at one run: where its outputs go, and what it does there."""

    s3: S3Client
    layout: Layout
    name: str
    run_id: str
    where: dict
    source: Source | dict
    quarantine_key: str | None = None  # where the record goes when the name is unusable
    completion: Completion = field(default_factory=Completion)
    started: float = field(default_factory=time.perf_counter)  # for the run's cost

    @property
    def prefix(self) -> str:
        return self.layout.run_prefix(self.name, self.run_id)

    @property
    def failure_key(self) -> str:
        return self.quarantine_key or self.layout.failure_key(self.name, self.run_id)

    def outcome(self, status: Status, **details) -> Outcome:
        return Outcome(**self.where, status=status, run_id=self.run_id, **details)

    def cost(self, **counts: int) -> dict:
        """What this delivery's work on the run has cost so far (``counts``: requests and
        transitions, for a distributed run)."""
        return self.completion.meter.cost(seconds=time.perf_counter() - self.started, **counts)

    def announce(
        self,
        status: Status,
        report: Mapping[str, Any] | None,
        *,
        error: RunError | None = None,
        latest_moved: bool | None = None,
        cost: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """The run's completion event, unless a delivery has put it (``completion``)."""
        succeeded = status == Status.SUCCEEDED
        keys = {
            "report_key": self.prefix + REPORT_FILE if succeeded else None,
            "page_key": None if self.quarantine_key else self.layout.page_key(self.name),
            "failure_key": None if succeeded else self.failure_key,
        }
        claim = (
            self.prefix + EVENT_FILE
            if succeeded
            else self.layout.event_claim_beside(self.failure_key)
        )
        detail = completion.detail(
            where=self.where,
            name=self.name,
            run_id=self.run_id,
            status=status,
            report=report,
            error=error.as_dict() if error else None,
            latest_moved=latest_moved,
            keys=keys,
            cost=cost or (report or {}).get("cost"),
        )
        return self.completion.announce(self.s3, self.where["bucket"], claim, detail)

    def already_done(self) -> Outcome | None:
        """The outcome of a run an earlier delivery or step published or recorded (its
        latest.json moved now if it had not been), or ``None``."""
        bucket = self.where["bucket"]
        (published, _), (failure, _) = storage.concurrently(
            lambda: storage.read_json(self.s3, bucket, self.prefix + REPORT_FILE),
            lambda: storage.read_json(self.s3, bucket, self.failure_key),
        )
        if published is not None:
            return self.was_published(published)
        if failure is not None:
            return self.was_recorded(failure)
        return None

    def was_published(self, report: dict) -> Outcome:
        # The delivery that published it may have failed before moving latest.json, or
        # before announcing the run. A report from before promotion rules was promoted.
        moved = self.move_latest(report) if report.get("promoted", True) else False
        logger.info("run already published; duplicate delivery", extra={"latest_moved": moved})
        return self.outcome(
            Status.SUCCEEDED,
            prefix=self.prefix,
            duplicate=True,
            latest_moved=moved,
            page_written=self.write_page(),
            event_sent=self.announce(Status.SUCCEEDED, report, latest_moved=moved),
        )

    def was_recorded(self, failure: dict) -> Outcome:
        logger.info("run already failed; duplicate delivery")
        status, error = Status(failure["status"]), InputError(**failure["error"])
        return self.outcome(
            status,
            failure_key=self.failure_key,
            error=error,
            duplicate=True,
            page_written=self.write_page(),
            event_sent=self.announce(
                status, failure.get("report"), error=error, cost=failure.get("cost")
            ),
        )

    def train_and_publish(
        self,
        upload: InputObject,
        settings: dict[str, str],
        *,
        uploaded: dict[str, str],
        limits: Limits,
        deadline: Deadline,
    ) -> Outcome:
        s3, bucket = self.s3, upload.bucket

        def opened() -> tuple[object, RunError | None]:
            try:
                return storage.open_body(s3, upload), None
            except RunError as error:
                return None, error

        # The download starts with the two checks, a round trip saved; a duplicate closes it.
        (published, _), (failure, _), (body, unreadable) = storage.concurrently(
            lambda: storage.read_json(s3, bucket, self.prefix + REPORT_FILE),
            lambda: storage.read_json(s3, bucket, self.failure_key),
            opened,
        )
        with closing(body) if body is not None else nullcontext():
            if published is not None:
                return self.was_published(published)
            if failure is not None:
                return self.was_recorded(failure)
            if unreadable is not None:
                return self.fail(unreadable, settings=settings)
            if body is None:
                # Overwritten between HEAD and GET: the newer version has its own event.
                logger.info("upload replaced before it was read; its own event will train it")
                return self.outcome(Status.SKIPPED, reason="replaced by a newer upload")
            try:
                limits.check_upload_settings(uploaded)
                hyperparameters = Hyperparameters.from_strings(settings)
                limits.check(hyperparameters)
                least = parsing_seconds(upload.size) + training_seconds(
                    engine=hyperparameters.engine,
                    iterations=hyperparameters.iterations,
                    rows=0,
                    n_features=0,
                )
                deadline.expect(least, "reading this upload and training on it")
                result = pipeline.run(
                    body,
                    hyperparameters,
                    source=self.source,
                    run_id=self.run_id,
                    max_bytes=limits.max_input_bytes,
                    deadline=deadline,
                    size=upload.size,
                    cost=self.cost,
                )
            except RunError as error:
                return self.fail(error, settings=settings)
        return self.finish(result, settings=settings)

    def finish(self, result: pipeline.Result, *, settings: dict) -> Outcome:
        """Publish a trained run, or record a diverged one."""
        # A run that did not succeed (it diverged) carries the error its record states.
        if result.error is not None:
            return self.fail(result.error, settings=settings, report=result.report)
        return self.publish(result)

    def publish(self, result: pipeline.Result) -> Outcome:
        s3, bucket = self.s3, self.where["bucket"]
        latest_key = self.layout.latest_key(self.name)
        started = time.perf_counter()
        # latest.json is read while the run's files are written, a round trip saved; the
        # promotion rule is then decided for report.json to say. If latest.json changes
        # meanwhile, the compare-and-swap in move_latest notices and decides again.
        files = {name: body for name, body in result.files.items() if name != REPORT_FILE}
        _, latest = storage.concurrently(
            lambda: storage.write_files(s3, bucket, self.prefix, files),
            lambda: storage.read_json(s3, bucket, latest_key),
        )
        verdict = self.completion.promotion.verdict(result.report, self.latest_report(latest[0]))
        report: Report = {
            **result.report,
            "promoted": verdict.promoted,
            "promotion": {"rule": str(self.completion.promotion), "reason": verdict.reason},
            # What the folder holds: readers (the model's page) need not ask S3 one by one.
            "files": sorted(result.files),
        }
        published = storage.put_if_absent(s3, bucket, self.prefix + REPORT_FILE, to_json(report))
        details = {
            "prefix": self.prefix,
            "test_mse": report["test_mse"],
            "rows": report["rows"]["total"],
            "timings": {**report["timings"], "write_seconds": time.perf_counter() - started},
        }
        if not published:
            logger.info("another delivery published this run first")
            return self.outcome(
                Status.SUCCEEDED, duplicate=True, page_written=self.write_page(), **details
            )

        def promote_and_announce() -> tuple[bool, bool | None]:
            moved = self.move_latest(report, known=latest) if verdict.promoted else False
            return moved, self.announce(Status.SUCCEEDED, report, latest_moved=moved)

        # Independent of each other once the run is complete: a round trip saved.
        (moved, event_sent), page_written = storage.concurrently(
            promote_and_announce, self.write_page
        )
        logger.info(
            "published",
            extra={"prefix": self.prefix, "latest_moved": moved, "promotion": verdict.reason},
        )
        return self.outcome(
            Status.SUCCEEDED,
            latest_moved=moved,
            page_written=page_written,
            event_sent=event_sent,
            **details,
        )

    def latest_report(self, pointer: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """What the promotion rule compares with: the run latest.json points at, from the
        pointer, or its report.json for a pointer written before pointers named the
        dataset."""
        if pointer is None or "dataset" in pointer or self.completion.promotion.rule == "newest":
            return pointer
        report, _ = storage.read_json(
            self.s3, self.where["bucket"], pointer["prefix"] + REPORT_FILE
        )
        return {**pointer, "dataset": (report or {}).get("dataset")}

    def move_latest(self, report: Mapping[str, Any], *, known: tuple | None = None) -> bool:
        """Point latest.json at this run unless it points at a newer upload already, or
        the promotion rule refuses this run against the one it points at now."""
        pointer = storage.latest_pointer(self.run_id, self.prefix, report)
        latest_key = self.layout.latest_key(self.name)
        promotion = self.completion.promotion
        return storage.update_latest(
            self.s3,
            self.where["bucket"],
            latest_key,
            pointer,
            known=known,
            allows=lambda current: promotion.verdict(report, self.latest_report(current)).promoted,
        )

    def fail(self, error: RunError, *, settings: dict, report: Report | None = None) -> Outcome:
        """Record a run that cannot succeed; a redelivery finds the record and stops there."""
        status = Status.DIVERGED if error.code == "diverged" else Status.FAILED
        cost = (report or {}).get("cost") or self.cost()
        record = {
            "status": status,
            "run_id": self.run_id,
            "error": error.as_dict(),
            "input": self.source,
            "settings": settings,
            "report": report,
            "cost": cost,
        }
        first = storage.record_failure(self.s3, self.where["bucket"], self.failure_key, record)
        logger.warning(
            "run failed",
            extra={"code": error.code, "error": error.message, "failure_key": self.failure_key},
        )
        return self.outcome(
            status,
            failure_key=self.failure_key,
            error=error,
            duplicate=not first,
            page_written=self.write_page(),
            event_sent=self.announce(status, report, error=error, cost=cost),
        )

    def write_page(self) -> bool | None:
        """Rewrite the model's page, now that this run is complete or recorded. Best effort:
        the run's outcome stands whatever happens here, and the model's next run rewrites
        the page (model_page says why that keeps it correct). ``None``: no page (an upload
        whose name makes no keys)."""
        if self.quarantine_key:
            return None
        bucket = self.where["bucket"]
        try:
            written = model_page.publish_page(self.s3, bucket, self.layout, self.name)
        except Exception as error:
            # Not only S3's errors: a record someone else left malformed must not fail, and
            # so retry, every run of the model.
            logger.warning(
                "model page not written; the model's next run rewrites it",
                extra={"error": f"{type(error).__name__}: {error}"},
                exc_info=not isinstance(error, ClientError | BotoCoreError),
            )
            return False
        if not written:
            logger.warning("model page kept changing; the model's next run rewrites it")
        return written
