"""The bucket's key layout, reading the uploaded CSV and publishing a run's files.

Layout (prefixes configurable, see ``Layout``):
    incoming/<name>.csv                      uploads; the function never writes here
    models/<name>/<run_id>/report.json ...   one folder per succeeded run
    models/<name>/latest.json                points at the newest succeeded run
    failures/<name>/<run_id>.json            one record per failed or diverged run
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from linreg.errors import InputError
from linreg.jsonfile import to_json

CONTENT_TYPES = {".json": "application/json", ".png": "image/png"}


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Where things live in the bucket."""

    incoming: str = "incoming/"
    models: str = "models/"
    failures: str = "failures/"

    def __post_init__(self) -> None:
        # Output under the upload prefix would trigger the function on its own output.
        for output in (self.models, self.failures):
            if output.startswith(self.incoming) or self.incoming.startswith(output):
                raise ValueError(f"prefix {output!r} overlaps the upload prefix {self.incoming!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Layout:
        names = {
            "incoming": "INCOMING_PREFIX",
            "models": "MODELS_PREFIX",
            "failures": "FAILURES_PREFIX",
        }
        return cls(**{field: env[name] for field, name in names.items() if env.get(name)})

    def model_name(self, key: str) -> str | None:
        """``incoming/a/b.csv`` → ``a/b``; ``None`` for a key this job must not train on."""
        if not key.startswith(self.incoming) or not key.endswith(".csv"):
            return None
        name = key[len(self.incoming) : -len(".csv")]
        return name or None

    def run_prefix(self, name: str, run_id: str) -> str:
        return f"{self.models}{name}/{run_id}/"

    def latest_key(self, name: str) -> str:
        return f"{self.models}{name}/latest.json"

    def failure_key(self, name: str, run_id: str) -> str:
        return f"{self.failures}{name}/{run_id}.json"


@dataclass(frozen=True)
class InputObject:
    """The uploaded CSV and the facts that identify this version of it."""

    bucket: str
    key: str
    body: bytes
    etag: str
    version_id: str | None
    last_modified: datetime

    def source(self) -> dict:
        """How reports name their input."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "last_modified": self.last_modified.isoformat(),
            "size": len(self.body),
        }


def read_input(s3, bucket: str, key: str, *, version_id: str | None = None) -> InputObject:
    """Download one object. A missing object is the user's (``input_missing``); other
    S3 errors propagate so that Lambda retries them."""
    options = {"VersionId": version_id} if version_id else {}
    try:
        response = s3.get_object(Bucket=bucket, Key=key, **options)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchKey", "NoSuchVersion"):
            raise
        what = f"s3://{bucket}/{key}" + (f" version {version_id}" if version_id else "")
        raise InputError(
            "input_missing", f"{what} no longer exists (deleted after upload?)"
        ) from None
    return InputObject(
        bucket=bucket,
        key=key,
        body=response["Body"].read(),
        etag=response["ETag"].strip('"'),
        version_id=response.get("VersionId"),
        last_modified=response["LastModified"],
    )


def run_id(*, etag: str, version_id: str | None, last_modified: datetime, settings: dict) -> str:
    """``<upload time>-<digest>``: sorts by upload time, and the same object version trained
    with the same settings always gets the same id (a redelivered event repeats a run, not
    adds one)."""
    identity = json.dumps(
        {"etag": etag, "version_id": version_id, "settings": settings}, sort_keys=True
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{last_modified.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}"


def publish_run(s3, bucket: str, prefix: str, files: Mapping[str, bytes]) -> list[str]:
    """Write a run's files; report.json goes last so a report means the run is complete."""
    order = sorted(files, key=lambda name: name == "report.json")
    keys = []
    for name in order:
        keys.append(put(s3, bucket, prefix + name, files[name]))
    return keys


def update_latest(s3, bucket: str, key: str, pointer: dict) -> bool:
    """Point latest.json at a run unless it already points at a newer upload.
    Returns whether it moved."""
    current = read_json(s3, bucket, key)
    if (
        current is not None
        and current["input"]["last_modified"] > pointer["input"]["last_modified"]
    ):
        return False
    put(s3, bucket, key, to_json(pointer))
    return True


def record_failure(s3, bucket: str, key: str, record: dict) -> str:
    return put(s3, bucket, key, to_json(record))


def read_json(s3, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def put(s3, bucket: str, key: str, body: bytes) -> str:
    suffix = key[key.rfind(".") :]
    content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return key
