"""Reading published runs back: a model's parameters, and the runs of a model name.

A model is named by a local run folder (what ``linreg train --out`` wrote, or a downloaded
run), by ``s3://bucket/models/<name>`` (its latest.json's run) or by
``s3://bucket/models/<name>/<run_id>`` (that run). Where runs and failure records of a name
live is ``layout.Layout``'s to say.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from linreg.contract import LATEST_FILE, PARAMS_FILE, REPORT_FILE, REPORT_HTML_FILE, Status
from linreg.errors import InputError, excerpt
from linreg.service import storage
from linreg.service.layout import Layout, is_run_id

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# How long a presigned link to a run's report stays valid.
LINK_SECONDS = 3600
# Reports read at once: below boto3's default of 10 pooled connections per client.
READERS = 8
# A listing of the newest N runs reads at most this many times N reports and records, however
# many incomplete run folders lie among them.
READ_BOUND = 2
# S3's rules for a bucket's name: 3 to 63 lowercase letters, digits, dots and hyphens,
# starting and ending with a letter or digit, no two dots together, not an IP address
# (Amazon S3 User Guide, "General purpose bucket naming rules").
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def load_params(model: str, *, s3: S3Client | None = None) -> dict:
    """params.json of the run ``model`` names."""
    # Anything "s3:" is meant as an address ("s3:/bucket" is a typo, not a folder), and is
    # checked before a client is needed: the CLI makes one for "s3://" only.
    if not model.startswith("s3:"):
        path = Path(model) / PARAMS_FILE
        if not path.is_file():
            raise InputError("model_not_found", f"{path} does not exist")
        return json.loads(path.read_text())
    bucket, prefix = bucket_and_prefix(model)
    if s3 is None:
        raise ValueError(f"{model} is an S3 address: it needs an S3 client")
    params, _ = storage.read_json(s3, bucket, prefix + PARAMS_FILE)
    if params is None:
        latest, _ = storage.read_json(s3, bucket, prefix + LATEST_FILE)
        if latest is None:
            raise InputError("model_not_found", f"{model} holds no run and no latest.json")
        params, _ = storage.read_json(s3, bucket, latest["prefix"] + PARAMS_FILE)
    if params is None:
        raise InputError("model_not_found", f"{model}: the run's params.json is missing")
    return params


def model_run(
    s3: S3Client, bucket: str, layout: Layout, name: str, run_id: str | None = None
) -> tuple[str, dict]:
    """The run of model ``name`` a prediction uses, as (run id, params.json): ``run_id``'s,
    which must be a complete, succeeded run of that model, or else latest.json's."""
    quoted = excerpt(name)
    if run_id is not None:
        if not is_run_id(run_id):
            raise InputError(
                "run_not_found",
                f"run-id {excerpt(run_id)} is not a run id (such as 20260101T000000Z-0123456789ab)",
            )
        prefix = layout.run_prefix(name, run_id)
        (report, _), (params, _) = storage.concurrently(
            lambda: storage.read_json(s3, bucket, prefix + REPORT_FILE),
            lambda: storage.read_json(s3, bucket, prefix + PARAMS_FILE),
        )
        if report is None or report.get("status") != Status.SUCCEEDED or params is None:
            raise InputError(
                "run_not_found",
                f"model {quoted} has no complete, succeeded run {run_id} "
                f"(no s3://{bucket}/{prefix}{REPORT_FILE})",
            )
        return run_id, params
    latest, _ = storage.read_json(s3, bucket, layout.latest_key(name))
    if latest is None:
        raise InputError(
            "model_not_found",
            f"model {quoted} has no succeeded run yet (no s3://{bucket}/"
            f"{layout.latest_key(name)}): train it first, with an upload under "
            f"{layout.incoming}",
        )
    params, _ = storage.read_json(s3, bucket, latest["prefix"] + PARAMS_FILE)
    if params is None:
        raise InputError(
            "model_not_found", f"model {quoted}: its latest run's {PARAMS_FILE} is missing"
        )
    return latest["run_id"], params


@dataclass(frozen=True)
class RunListing:
    """A model's runs, newest first, and how many older ones were left unread."""

    runs: list[dict]
    # Run folders and failure records past the limit (some may be runs still being written).
    older: int
    # The folder the runs were listed in, and the model's name when one was found.
    folder: str
    name: str | None = None


def model_runs(
    model: str, *, s3: S3Client, layout: Layout | None = None, limit: int | None = None
) -> RunListing:
    """Every run of a model, newest first (``limit``: the newest that many only): succeeded
    runs from their report.json, failed and diverged ones from their failure records.
    ``model`` is ``s3://bucket/<models prefix><name>``, the prefixes those of ``layout``;
    for a folder outside its models prefix, the name is the shortest ending of the folder's
    path that has failure records."""
    layout = layout or Layout()
    bucket, folder = bucket_and_prefix(model)
    name = layout.name_of_model_folder(folder) or _name_with_failures(s3, bucket, folder, layout)
    failures = layout.failure_folder(name) if name else None
    return dataclasses.replace(read_runs(s3, bucket, folder, failures, limit=limit), name=name)


def read_runs(
    s3: S3Client,
    bucket: str,
    model_folder: str,
    failure_folder: str | None,
    *,
    limit: int | None = None,
) -> RunListing:
    """The runs under ``model_folder`` and the records under ``failure_folder``, newest
    first. Listing is cheap (a key per run); reading is not, so only the newest ``limit``
    are read, several at once, and never more than ``READ_BOUND`` times that: only folders
    and records named by a run id count (a nested model's folder is not a run), and a run
    folder without report.json, a run still being written, is skipped for the next older."""
    folders = [
        (folder[len(model_folder) : -1], folder) for folder in _folders(s3, bucket, model_folder)
    ]
    records = [
        (posixpath.basename(key).removesuffix(".json"), key)
        for key in (_keys(s3, bucket, failure_folder) if failure_folder else [])
    ]
    candidates = sorted(
        [(run_id, key) for run_id, key in folders + records if is_run_id(run_id)],
        reverse=True,
    )
    wanted = len(candidates) if limit is None else limit
    most = min(len(candidates), READ_BOUND * wanted)
    runs: list[dict] = []
    read = 0
    with ThreadPoolExecutor(READERS, thread_name_prefix="runs") as pool:
        while len(runs) < wanted and read < most:
            batch = candidates[read : min(read + wanted - len(runs), most)]
            read += len(batch)
            found = pool.map(lambda candidate: _read_run(s3, bucket, candidate[1]), batch)
            runs += [run for run in found if run is not None]
    return RunListing(runs=runs, older=len(candidates) - read, folder=model_folder)


def _read_run(s3: S3Client, bucket: str, key: str) -> dict | None:
    """A run folder's row, or a failure record's; ``None`` while a run is incomplete, and
    for a file that is not a run's (someone else's object in the model's folders must not
    hide every run after it)."""
    try:
        if not key.endswith("/"):
            record, _ = storage.read_json(s3, bucket, key)
            if record is None:  # deleted since it was listed
                return None
            return _row({**(record.get("report") or {}), **record}, bucket, key)
        report, _ = storage.read_json(s3, bucket, key + REPORT_FILE)
        if report is None:
            return None
        return _row(report, bucket, key + _page(s3, bucket, key, report))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _name_with_failures(s3: S3Client, bucket: str, folder: str, layout: Layout) -> str | None:
    segments = folder.strip("/").split("/")
    for start in range(len(segments) - 1, -1, -1):
        name = "/".join(segments[start:])
        if _keys(s3, bucket, layout.failure_folder(name)):
            return name
    return None


def link(s3: S3Client, bucket: str, key: str) -> str:
    """A presigned HTTPS link to one object, for a browser."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=LINK_SECONDS
    )


def _row(report: dict, bucket: str, key: str) -> dict:
    settings = report.get("hyperparameters") or {}
    return {
        "run_id": report["run_id"],
        "status": report["status"],
        "time": upload_time(report),
        "test_mse": report.get("test_mse"),
        "baseline_test_mse": report.get("baseline_test_mse"),
        "test_r2": report.get("test_r2"),
        "baseline_test_r2": report.get("baseline_test_r2"),
        "preset": settings.get("preset") or (report.get("settings") or {}).get("preset"),
        "iterations": report.get("iterations_run"),
        "error": (report.get("error") or {}).get("code"),
        "promoted": report.get("promoted"),
        "promotion": (report.get("promotion") or {}).get("reason"),
        "usd": (report.get("cost") or {}).get("usd"),
        "bucket": bucket,
        "key": key,
    }


def upload_time(report: dict) -> datetime | None:
    """When the run's upload was made (UTC): its ``last_modified``, or else the time its run
    id starts with (a record written before the upload was described has no
    ``last_modified``; the id then holds the event's time)."""
    source = report.get("input") or {}
    try:
        if source.get("last_modified"):
            return datetime.fromisoformat(source["last_modified"]).astimezone(UTC)
        stamp = str(report.get("run_id")).split("-", 1)[0]
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _page(s3: S3Client, bucket: str, run_prefix: str, report: dict) -> str:
    """What a run's row links to: its report.html, else its report.json. A report lists
    its folder's files since runs were published with them; an older one's folder is
    asked (a request per run)."""
    files = report.get("files")
    if isinstance(files, list):
        has_page = REPORT_HTML_FILE in files
    else:
        has_page = storage.exists(s3, bucket, run_prefix + REPORT_HTML_FILE)
    return REPORT_HTML_FILE if has_page else REPORT_FILE


def bucket_and_prefix(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not _is_bucket_name(parsed.netloc) or not parsed.path.strip("/"):
        raise InputError("bad_model", f"{excerpt(url)} is not s3://bucket/models/<name>[/<run_id>]")
    return parsed.netloc, parsed.path.strip("/") + "/"


def _is_bucket_name(name: str) -> bool:
    if not BUCKET_NAME.fullmatch(name) or ".." in name:
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return True
    return False


def _folders(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    return [item["Prefix"] for page in pages for item in page.get("CommonPrefixes", [])]


def _keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    return list(storage.list_keys(s3, bucket, prefix, delimiter="/"))
