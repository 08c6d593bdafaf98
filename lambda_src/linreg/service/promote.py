"""``linreg promote``: move a model's latest.json to a run a person chose, past the
promotion rule and the upload order, by the same compare-and-swap the function uses."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linreg.contract import REPORT_FILE, Status
from linreg.errors import InputError, excerpt
from linreg.jsonfile import to_json
from linreg.service import model_page, storage
from linreg.service.layout import Layout, is_run_id
from linreg.service.published import bucket_and_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Promoted:
    """What ``promote`` did: the model, the run latest.json points at now, the pointer it
    replaced (``None``: there was none), and whether the model's page was rewritten."""

    name: str
    pointer: dict[str, Any]
    replaced: dict[str, Any] | None
    page_written: bool


def promote(s3: S3Client, run_url: str, *, layout: Layout) -> Promoted:
    """Point the model's latest.json at the run ``run_url`` names
    (``s3://bucket/<models prefix><name>/<run_id>``): a complete, succeeded run."""
    bucket, prefix = bucket_and_prefix(run_url)
    run_id = posixpath.basename(prefix.rstrip("/"))
    name = layout.name_of_model_folder(posixpath.dirname(prefix.rstrip("/")))
    if not is_run_id(run_id) or name is None:
        raise InputError(
            "bad_model",
            f"{excerpt(run_url)} is not a run: s3://bucket/{layout.models}<name>/<run_id>",
        )
    report, _ = storage.read_json(s3, bucket, prefix + REPORT_FILE)
    if report is None:
        raise InputError(
            "run_not_found", f"{excerpt(run_url)} has no report.json: not a complete run"
        )
    if report.get("status") != Status.SUCCEEDED:
        raise InputError(
            "run_not_found",
            f"{excerpt(run_url)} {report.get('status')}: only a model can be latest",
        )
    pointer = storage.latest_pointer(run_id, prefix, report)
    key = layout.latest_key(name)
    replaced: list[dict | None] = [None]

    def next_version(attempt: int) -> tuple[bytes | None, str | None]:
        current, etag = storage.read_json(s3, bucket, key)
        replaced[0] = current
        return to_json(pointer), etag

    storage.swap(s3, bucket, key, next_version)
    try:
        written = model_page.publish_page(s3, bucket, layout, name)
    except Exception:  # the page is a view: the next run rewrites it
        written = False
    return Promoted(name, pointer, replaced[0], written)
