"""Running the handler locally: an embedded S3 (or the stack's state machine in moto)
stocked with an upload and a bucket's local copy, and the runs saved back into that copy."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock
from urllib.parse import quote_plus

from linreg.contract import EVENT_BUS_ENV, EVENT_FILE, REPORT_HTML_FILE, Status
from linreg.errors import InputError
from linreg.local import require_moto

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The notification S3 sends, as the sample event has it.
# A local run announces its end as a deployed one does, on moto's default bus; the claim
# (event.json) is saved with the run.
LOCAL_EVENTS = {EVENT_BUS_ENV: "default"}
SAMPLE_EVENT = Path(__file__).resolve().parents[3] / "events" / "s3-put.json"


@dataclass(frozen=True)
class Upload:
    """What the embedded S3 starts with: ``data`` (with ``metadata``) at each event key
    where nothing is, and the runs of the bucket's local copy ``mirror``."""

    data: bytes
    metadata: dict[str, str]
    mirror: Path | None


def upload_event(key: str, data: bytes) -> dict:
    """The notification S3 sends when ``data`` is put at ``key`` in the sample event's
    bucket: the sample's record with this upload's key, size, ETag and time."""
    record = json.loads(SAMPLE_EVENT.read_text())["Records"][0]
    record["eventTime"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    record["s3"]["object"] = {
        "key": quote_plus(key, safe="/"),
        "size": len(data),
        # S3's ETag of an object put in one piece, unencrypted: its MD5, as hex.
        "eTag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sequencer": f"{time.time_ns():018X}",
    }
    return {"Records": [record]}


def finished(served, s3: S3Client, outcome: dict) -> dict:
    """A started run's outcome: its execution's, once it has ended. A failed execution
    has written the run's failure record (the state machine's RecordFailure or RunRefused
    step), which says why."""
    if served is None or outcome["status"] != Status.STARTED:
        return outcome
    from linreg.local.state_machine import execution_arn
    from linreg.service.layout import Layout
    from linreg.service.storage import read_json

    described = served.wait(execution_arn(served.arn, outcome["run_id"]), timeout_seconds=600)
    if described["status"] == "SUCCEEDED":
        return json.loads(described["output"])
    layout = Layout.from_env(os.environ)
    key = layout.failure_key(layout.model_name(outcome["key"]) or "", outcome["run_id"])
    record, _ = read_json(s3, outcome["bucket"], key)
    error = (record or {}).get("error") or {
        "code": "run_failed",
        "message": f"the execution ended {described['status']}: {described.get('cause')}",
    }
    status = (record or {}).get("status", Status.FAILED)
    return {**outcome, "status": status, **error, "failure_key": key if record else None}


@contextmanager
def state_machine_in_moto(
    records: list, upload: Upload, *, distributed_above: int, part_bytes: int | None
):
    """The stack's state machine, synthesized from this checkout, run in moto with the
    handler serving its steps; S3 is moto's too, stocked as ``upload`` says."""
    require_moto()
    from linreg import contract, handler
    from linreg.local.embedded_s3 import FAKE_AWS
    from linreg.local.state_machine import serving, synthesized_template

    # The sizes reach the function through its environment, not the state machine's.
    template = synthesized_template()
    env = {
        **FAKE_AWS,
        **LOCAL_EVENTS,
        contract.DISTRIBUTED_ABOVE_BYTES_ENV: str(distributed_above),
    }
    if part_bytes:
        env[contract.PART_BYTES_ENV] = str(part_bytes)
    buckets = {record.bucket for record in records}
    if len(buckets) != 1:
        raise InputError("bad_usage", "--distributed-above needs an event about one bucket")
    (bucket,) = buckets
    with mock.patch.dict(os.environ, env):
        os.environ.pop("AWS_ENDPOINT_URL_S3", None)
        handler.forget_clients()  # a client made for another endpoint
        steps = functools.partial(handler.lambda_handler, context=None)
        with serving(template, steps, bucket) as served:
            _stock(served.s3, records, upload)
            os.environ[contract.STATE_MACHINE_ARN_ENV] = served.arn
            with mock.patch.object(handler, "sfn_client", lambda: served.sfn):
                yield served
        handler.forget_clients()


@contextmanager
def embedded_s3_with(records: list, upload: Upload) -> Iterator[None]:
    """The embedded S3, stocked as ``upload`` says."""
    import boto3

    from linreg.local.embedded_s3 import embedded_s3

    with embedded_s3() as url:
        # Completion events go to the same server's EventBridge, as a deployment's would.
        events = {**LOCAL_EVENTS, "AWS_ENDPOINT_URL_EVENTS": url}
        with mock.patch.dict(os.environ, events):
            _stock(boto3.client("s3"), records, upload)
            yield


def _stock(s3: S3Client, records: list, upload: Upload) -> None:
    """Each event's bucket, holding the runs of the local copy and, at each event key
    where nothing is, the upload."""
    from linreg.local.embedded_s3 import load_folder
    from linreg.service.layout import Layout
    from linreg.service.storage import exists

    layout = Layout.from_env(os.environ)
    for bucket in sorted({record.bucket for record in records} - _buckets(s3)):
        s3.create_bucket(Bucket=bucket)
        if upload.mirror is not None:
            load_folder(s3, bucket, upload.mirror, (layout.models, layout.failures))
    for record in records:
        if not exists(s3, record.bucket, record.key):
            s3.put_object(
                Bucket=record.bucket, Key=record.key, Body=upload.data, Metadata=upload.metadata
            )


def _buckets(s3: S3Client) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}


def download_run(s3: S3Client, outcome: dict, out: Path) -> list[tuple[str, Path]]:
    """Save a run's files (every page of them), or its failure record, under ``out`` as
    the bucket holds them, with the model page and latest.json beside them (a scored
    upload's predictions file alone). Returns what a person may open, as (what, path)."""
    from linreg.service.storage import exists, list_keys

    if "predictions_key" in outcome:
        # A scored upload (service.predictions): its predictions file alone.
        _save(s3, outcome["bucket"], outcome["predictions_key"], out)
        return [("saved to", out / outcome["predictions_key"])]
    if "prefix" in outcome:
        keys = list(list_keys(s3, outcome["bucket"], outcome["prefix"]))
    else:
        keys = [outcome["failure_key"]] if "failure_key" in outcome else []
    if not keys:
        return []
    claim = _failure_event_claim(outcome)
    if claim and exists(s3, outcome["bucket"], claim):
        keys.append(claim)
    for key in keys:
        _save(s3, outcome["bucket"], key, out)
    folder = out / Path(keys[0]).parent
    saved = [("saved to", folder)]
    event = next((key for key in keys if key.endswith(EVENT_FILE)), None)
    if event:
        saved.append(("event", out / event))
    if (folder / REPORT_HTML_FILE).exists():
        saved.append(("report", folder / REPORT_HTML_FILE))
    page, latest = _model_keys(outcome["key"])
    # Its links are relative, so they work beside the run just saved.
    if page and exists(s3, outcome["bucket"], page):
        _save(s3, outcome["bucket"], page, out)
        saved.append(("model page", out / page))
    # The copy's pointer, for the next invoke --out DIR and for predict DIR/models/NAME.
    if latest and exists(s3, outcome["bucket"], latest):
        _save(s3, outcome["bucket"], latest, out)
    return saved


def _failure_event_claim(outcome: dict) -> str | None:
    from linreg.service.layout import Layout

    if "failure_key" not in outcome:
        return None
    return Layout.from_env(os.environ).event_claim_beside(outcome["failure_key"])


def _save(s3: S3Client, bucket: str, key: str, out: Path) -> None:
    target = out / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _model_keys(upload_key: str) -> tuple[str | None, str | None]:
    """The page and latest.json of the model an upload trains, where the handler's layout
    puts them."""
    from linreg.service.layout import Layout

    layout = Layout.from_env(os.environ)
    name = layout.model_name(upload_key)
    if not name or layout.name_problem(name, key=upload_key) is not None:
        return None, None
    return layout.page_key(name), layout.latest_key(name)
