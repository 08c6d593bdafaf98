"""Reading published runs back: a model's parameters, and the runs of a model name.

A model is named by a local run folder (what ``linreg train --out`` wrote, or a downloaded
run), by ``s3://bucket/models/<name>`` (its latest.json's run) or by
``s3://bucket/models/<name>/<run_id>`` (that run). Where runs and failure records of a name
live is ``storage.Layout``'s to say.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from linreg import storage
from linreg.errors import InputError
from linreg.storage import Layout

# How long a presigned link to a run's report stays valid.
LINK_SECONDS = 3600


def load_params(model: str, *, s3=None) -> dict:
    """params.json of the run ``model`` names."""
    if not model.startswith("s3://"):
        path = Path(model) / "params.json"
        if not path.is_file():
            raise InputError("model_not_found", f"{path} does not exist")
        return json.loads(path.read_text())
    bucket, prefix = _bucket_and_prefix(model)
    params, _ = storage.read_json(s3, bucket, prefix + "params.json")
    if params is None:
        latest, _ = storage.read_json(s3, bucket, prefix + "latest.json")
        if latest is None:
            raise InputError("model_not_found", f"{model} holds no run and no latest.json")
        params, _ = storage.read_json(s3, bucket, latest["prefix"] + "params.json")
    if params is None:
        raise InputError("model_not_found", f"{model}: the run's params.json is missing")
    return params


def list_runs(model: str, *, s3, layout: Layout | None = None) -> list[dict]:
    """Every run of a model, newest first: succeeded runs from their report.json, failed
    and diverged ones from their failure records. ``model`` is
    ``s3://bucket/<models prefix><name>``, the prefixes those of ``layout``; for a folder
    outside its models prefix, the name is the shortest ending of the folder's path that has
    failure records."""
    layout = layout or Layout()
    bucket, folder = _bucket_and_prefix(model)
    runs = []
    for run_prefix in _folders(s3, bucket, folder):
        report, _ = storage.read_json(s3, bucket, run_prefix + "report.json")
        if report is not None:  # a folder without a report is a run still being written
            runs.append(_row(report, bucket, run_prefix + _page(s3, bucket, run_prefix)))
    name = layout.name_of_model_folder(folder) or _name_with_failures(s3, bucket, folder, layout)
    for key in _keys(s3, bucket, layout.failure_folder(name)) if name else []:
        record, _ = storage.read_json(s3, bucket, key)
        runs.append(_row({**(record.get("report") or {}), **record}, bucket, key))
    return sorted(runs, key=lambda run: run["run_id"], reverse=True)


def _name_with_failures(s3, bucket: str, folder: str, layout: Layout) -> str | None:
    segments = folder.strip("/").split("/")
    for start in range(len(segments) - 1, -1, -1):
        name = "/".join(segments[start:])
        if _keys(s3, bucket, layout.failure_folder(name)):
            return name
    return None


def link(s3, bucket: str, key: str) -> str:
    """A presigned HTTPS link to one object, for a browser."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=LINK_SECONDS
    )


def _row(report: dict, bucket: str, key: str) -> dict:
    settings = report.get("hyperparameters") or {}
    return {
        "run_id": report["run_id"],
        "status": report["status"],
        "test_mse": report.get("test_mse"),
        "baseline_test_mse": report.get("baseline_test_mse"),
        "preset": settings.get("preset") or (report.get("settings") or {}).get("preset"),
        "iterations": report.get("iterations_run"),
        "error": (report.get("error") or {}).get("code"),
        "bucket": bucket,
        "key": key,
    }


def _page(s3, bucket: str, run_prefix: str) -> str:
    return (
        "report.html" if storage.exists(s3, bucket, run_prefix + "report.html") else "report.json"
    )


def _bucket_and_prefix(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise InputError("bad_model", f"{url!r} is not s3://bucket/models/<name>[/<run_id>]")
    return parsed.netloc, parsed.path.strip("/") + "/"


def _folders(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    return [item["Prefix"] for page in pages for item in page.get("CommonPrefixes", [])]


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
