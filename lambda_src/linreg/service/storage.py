"""Reading the uploaded CSV and publishing a run's files: the S3 calls the function makes.

S3 delivers events at least once, sometimes concurrently. Every write here is safe to
repeat: a run's files are deterministic, and the two that decide an outcome (report.json,
a failure record) are written with ``IfNoneMatch="*"`` so exactly one delivery wins.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from linreg.contract import (
    MAX_INPUT_BYTES_ENV,
    REPORT_FILE,
)
from linreg.errors import InputError, excerpt
from linreg.jsonfile import to_json
from linreg.payloads import Source

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPES = {
    ".json": "application/json",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".sql": "application/sql; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
# The one retry policy of every conditional write (swap): how often it is tried, and the
# first pause (doubling) after S3 answers 409, a conflicting write still in flight. A
# write whose object changed since it was read (412, or 404: deleted) is tried again at
# once, from a fresh read.
WRITE_ATTEMPTS = 8
CONFLICT_BACKOFF_SECONDS = 0.05
# S3's answers to a conditional request: its condition failed (412), or, for a write, a
# conflicting write is still in flight (409, "try again").
PRECONDITION_FAILED = ("PreconditionFailed", "412")
CONFLICT = ("ConditionalRequestConflict", "409")
MISSING = ("NoSuchKey", "404")
# S3's answers to a request it will not serve as made; to a HEAD, always a bare "400".
BAD_REQUEST = ("400", "BadRequest", "InvalidRequest", "InvalidArgument")

# What a write sends: bytes, or a seekable file (a prediction's rows, spooled to disk).
Body = bytes | IO[bytes]


@dataclass(frozen=True)
class InputObject:
    """One version of an uploaded object, as S3 describes it (the body is read separately)."""

    bucket: str
    key: str
    etag: str
    version_id: str | None
    last_modified: datetime
    size: int
    sequencer: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # the upload's x-amz-meta-*

    def source(self) -> Source:
        """How reports and latest.json name their input."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "last_modified": self.last_modified.isoformat(),
            "sequencer": self.sequencer,
            "size": self.size,
        }


def describe_input(
    s3: S3Client, bucket: str, key: str, *, version_id: str | None, sequencer: str | None
) -> InputObject:
    """HEAD the upload: identity and size, before anything is downloaded.

    Raises ``InputError`` for what a retry cannot fix: the object (version) is gone, or
    the function may not read it.
    """
    options: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    what = f"s3://{bucket}/{key}" + (f" version {version_id}" if version_id else "")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **options)
    except ClientError as error:
        code = error_code(error)
        if code in ("404", "NoSuchKey", "NoSuchVersion"):
            raise InputError(
                "input_missing", f"{what} no longer exists (deleted after upload?)"
            ) from None
        if code in ("403", "AccessDenied"):
            raise _unreadable(what) from None
        if code in BAD_REQUEST:
            reason = _why_bad_request(s3, bucket, key, options)
            if reason is None:
                raise  # the GET worked: a passing fault, for Lambda to retry
            raise InputError(
                "input_unreadable", f"{what} cannot be read by the function: {reason}"
            ) from None
        raise
    return InputObject(
        bucket=bucket,
        key=key,
        etag=head["ETag"].strip('"'),
        version_id=head.get("VersionId") or version_id,
        last_modified=head["LastModified"],
        size=head["ContentLength"],
        sequencer=sequencer,
        metadata=head.get("Metadata", {}),
    )


def _why_bad_request(s3: S3Client, bucket: str, key: str, options: dict) -> str | None:
    """What S3 says is wrong with a request its HEAD answered 400 (a malformed version id,
    an object encrypted with a customer-provided key, ...): a HEAD's answer has no body,
    so the reason comes from a one-byte GET; ``None`` if that GET succeeds."""
    try:
        s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-0", **options)
    except ClientError as error:
        said = error.response.get("Error", {})
        reason = f"S3 answered {error_code(error)}: {excerpt(str(said.get('Message', '')))}"
        if "encryption" in str(said.get("Message", "")).lower():
            reason += (
                " (encrypted with a customer-provided key, SSE-C, which only the uploader "
                "holds: upload it without one)"
            )
        return reason
    return None


def check_size(upload: InputObject, max_bytes: int) -> None:
    """Refuse an upload larger than ``max_bytes`` before it is downloaded."""
    if upload.size > max_bytes:
        raise InputError(
            "too_large",
            f"s3://{upload.bucket}/{upload.key} is {upload.size:,} bytes; the limit is "
            f"{max_bytes:,} ({MAX_INPUT_BYTES_ENV})",
        )


def open_body(s3: S3Client, upload: InputObject):
    """A stream of exactly the version described (read it once, in blocks), or ``None``
    if the object was replaced since it was described."""
    options: dict[str, Any] = {"VersionId": upload.version_id} if upload.version_id else {}
    try:
        response = s3.get_object(
            Bucket=upload.bucket, Key=upload.key, IfMatch=f'"{upload.etag}"', **options
        )
    except ClientError as error:
        code = error_code(error)
        if code in (*PRECONDITION_FAILED, *MISSING):
            return None
        if code in ("403", "AccessDenied"):
            raise _unreadable(f"s3://{upload.bucket}/{upload.key}") from None
        raise
    return response["Body"]


def _unreadable(what: str) -> InputError:
    return InputError(
        "input_unreadable",
        f"{what} cannot be read by the function (access denied; is it encrypted "
        "with a KMS key the function may not use?)",
    )


def list_keys(
    s3: S3Client, bucket: str, prefix: str, *, delimiter: str | None = None
) -> Iterator[str]:
    """The keys below ``prefix`` in key order, every page of them (a page holds at most
    1,000); with ``delimiter``, those not below a further one."""
    options: dict[str, Any] = {"Delimiter": delimiter} if delimiter else {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **options)
    for page in pages:
        yield from (item["Key"] for item in page.get("Contents", []))


def exists(s3: S3Client, bucket: str, key: str) -> bool:
    return _head(s3, bucket, key) is not None


def etag(s3: S3Client, bucket: str, key: str) -> str | None:
    """An object's ETag (quoted, as If-Match takes it), or ``None`` when it does not exist."""
    head = _head(s3, bucket, key)
    return None if head is None else head["ETag"]


def head(s3: S3Client, bucket: str, key: str) -> Mapping[str, Any] | None:
    """An object's HEAD (ETag, Metadata, ...), or ``None`` when it does not exist."""
    return _head(s3, bucket, key)


def _head(s3: S3Client, bucket: str, key: str) -> Mapping[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in MISSING:
            return None
        raise


def write_files(s3: S3Client, bucket: str, prefix: str, files: Mapping[str, bytes]) -> None:
    """Write a run's files, all at once. report.json is not among them: it is written last,
    and only if absent (``put_if_absent``), because a report means the run is complete."""
    if REPORT_FILE in files:
        raise ValueError("report.json is written last, on its own, with put_if_absent")
    concurrently(
        *(functools.partial(put, s3, bucket, prefix + name, body) for name, body in files.items())
    )


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """The results of independent S3 calls made at once: the caller waits about one round
    trip instead of one per call (boto3 clients are thread-safe). Every call has ended
    when this returns or raises; the first failing call's error is raised."""
    if len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(len(calls), thread_name_prefix="s3") as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def record_failure(s3: S3Client, bucket: str, key: str, record: dict) -> bool:
    """Write a failure record unless this run already has one."""
    return put_if_absent(s3, bucket, key, to_json(record))


def latest_pointer(run_id: str, prefix: str, report: Mapping[str, Any]) -> dict:
    """latest.json's content for a run: what ordering and the promotion rule compare."""
    return {
        "run_id": run_id,
        "prefix": prefix,
        "test_mse": report["test_mse"],
        "dataset": report.get("dataset"),
        "input": report["input"],
    }


def update_latest(
    s3: S3Client,
    bucket: str,
    key: str,
    pointer: dict,
    *,
    known: tuple[dict | None, str | None] | None = None,
    allows: Callable[[dict | None], bool] | None = None,
) -> bool:
    """Point latest.json at a run unless it already points at a newer upload, or
    ``allows`` (the promotion rule) refuses the run against the pointer found.

    Compare-and-swap on the object's ETag, so two runs finishing together cannot both
    read the old pointer and the older one overwrite the newer. ``known`` is latest.json as
    already read (JSON and ETag), a round trip saved; stale is fine, the swap then fails and
    the pointer is read again. Returns whether it moved.
    """

    def next_version(attempt: int) -> tuple[bytes | None, str | None]:
        current, etag = known if attempt == 0 and known else read_json(s3, bucket, key)
        if current is not None and (
            current["run_id"] == pointer["run_id"]
            or not is_newer(pointer["input"], current["input"])
        ):
            return None, etag
        if allows is not None and not allows(current):
            return None, etag
        return to_json(pointer), etag

    return swap(s3, bucket, key, next_version)


def is_newer(candidate: dict, current: dict) -> bool:
    """Upload order: object time first (S3 gives whole seconds), then, for two events on
    the same key, S3's event sequencer. With neither to tell them apart, the later-processed
    run wins."""
    if candidate["last_modified"] != current["last_modified"]:
        return candidate["last_modified"] > current["last_modified"]
    same_key = candidate["key"] == current.get("key")
    if same_key and candidate.get("sequencer") and current.get("sequencer"):
        width = max(len(candidate["sequencer"]), len(current["sequencer"]))
        # S3 documents sequencers as hex strings to compare after left-padding with zeros.
        return candidate["sequencer"].zfill(width) >= current["sequencer"].zfill(width)
    return True


def read_json(s3: S3Client, bucket: str, key: str) -> tuple[Any, str | None]:
    """An object's JSON and ETag, or ``(None, None)`` when it does not exist."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            return None, None
        raise
    return json.loads(response["Body"].read()), response["ETag"]


def put_if_absent(s3: S3Client, bucket: str, key: str, body: bytes) -> bool:
    """Write ``key`` unless it exists; ``False`` once the object another writer put there
    has been seen. S3 answers 409 (ConditionalRequestConflict) while a conflicting write is
    still in flight: that is "try again", not "someone else won"."""

    def next_version(attempt: int) -> tuple[bytes | None, str | None]:
        # Only a retry has reason to look: the happy path costs one request.
        return (None if attempt and exists(s3, bucket, key) else body), None

    return swap(s3, bucket, key, next_version)


class WriteConflict(RuntimeError):
    """A conditional write lost every race: raised so that Lambda retries the event."""


def swap(
    s3: S3Client,
    bucket: str,
    key: str,
    next_version: Callable[[int], tuple[Body | None, str | None]],
    **options: Any,
) -> bool:
    """Compare-and-swap, the one way this project overwrites a shared object.

    ``next_version(attempt)`` reads what it needs and returns the body to write and the
    ETag of the version it was computed from (None: the object was absent), or no body
    when nothing needs writing. The write only lands on that same version (``IfMatch``,
    or ``IfNoneMatch`` for none); otherwise ``next_version`` is asked again. Returns
    whether it wrote; raises ``WriteConflict`` after ``WRITE_ATTEMPTS`` lost races. A body
    may be a seekable file, sent from its start each time; ``options`` go to every put
    (``Metadata``).
    """
    for attempt in range(WRITE_ATTEMPTS):
        body, seen = next_version(attempt)
        if body is None:
            return False
        condition = {"IfMatch": seen} if seen else {"IfNoneMatch": "*"}
        if not isinstance(body, bytes):
            body.seek(0)
        try:
            put(s3, bucket, key, body, **condition, **options)
            return True
        except ClientError as error:
            code = error_code(error)
            if code not in (*PRECONDITION_FAILED, *MISSING, *CONFLICT):
                raise
            if code in CONFLICT:
                time.sleep(CONFLICT_BACKOFF_SECONDS * 2**attempt)
    raise WriteConflict(f"s3://{bucket}/{key} kept changing; giving up so Lambda retries")


def put(s3: S3Client, bucket: str, key: str, body: Body, **conditions: Any) -> None:
    suffix = key[key.rfind(".") :]
    content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **conditions)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
