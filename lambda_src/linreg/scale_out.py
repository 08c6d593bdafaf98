"""The distributed path: starting a run on the state machine, and the steps it calls back.

An upload above ``LINREG_DISTRIBUTED_ABOVE_BYTES`` (or a manifest of part files) is not
trained in place: the function starts a Step Functions execution named after the run, so
that duplicate deliveries start it once. The state machine then calls the same function
with ``{"linreg_step": ...}``:

- ``plan``: read the header, cut the object(s) into byte ranges (a ``.csv.gz`` is one
  part), write the plan (a JSON array) under the run's folder;
- ``part`` (one per plan item, in a Distributed Map): the range's statistics, written
  under the run's folder; an input problem is written as the part's result, not raised;
- ``reduce``: sum the parts (all of them, or nothing), train and publish as one run would;
- ``fail``: a failure record for a run the state machine could not finish.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from linreg import distributed, storage
from linreg.config import Hyperparameters, int_setting
from linreg.contract import (
    DEFAULT_DISTRIBUTED_ABOVE_BYTES,
    DEFAULT_PART_BYTES,
    DISTRIBUTED_ABOVE_BYTES_ENV,
    DISTRIBUTED_FOLDER,
    MANIFEST_SUFFIX,
    PART_BYTES_ENV,
    PLAN_FILE,
    STATE_MACHINE_ARN_ENV,
)
from linreg.data import TestSample, load_part
from linreg.data.stream import MAX_LINE_BYTES, line_blocks, owned_lines, plain, split_header
from linreg.errors import InputError
from linreg.jsonfile import to_json
from linreg.spec import spec_named
from linreg.storage import InputObject, Layout

# How many part results the reduce reads at once.
READ_THREADS = 32


def state_machine(env: Mapping[str, str]) -> str | None:
    """The state machine to start, or ``None`` where there is none (local runs)."""
    return env.get(STATE_MACHINE_ARN_ENV) or None


def distributed_above(env: Mapping[str, str]) -> int:
    return int_setting(env, DISTRIBUTED_ABOVE_BYTES_ENV, DEFAULT_DISTRIBUTED_ABOVE_BYTES)


def part_bytes(env: Mapping[str, str]) -> int:
    return int_setting(env, PART_BYTES_ENV, DEFAULT_PART_BYTES)


def goes_distributed(upload: InputObject, env: Mapping[str, str]) -> bool:
    """Whether an upload trains on the state machine: a manifest always, a file above the
    size, and neither where no state machine is deployed."""
    if state_machine(env) is None:
        return False
    return upload.key.endswith(MANIFEST_SUFFIX) or upload.size > distributed_above(env)


def check_trainable_here(upload: InputObject) -> None:
    """A manifest names part files for the state machine; without one it cannot train."""
    if upload.key.endswith(MANIFEST_SUFFIX):
        raise InputError(
            "bad_manifest",
            f"{upload.key} is a manifest of part files, which only a deployment with the "
            "scale-out state machine trains",
        )


def start(sfn, arn: str, run: dict) -> bool:
    """Start the run's execution; ``False`` when a delivery already started it (execution
    names are unique per state machine for 90 days)."""
    try:
        sfn.start_execution(stateMachineArn=arn, name=run["run_id"], input=json.dumps(run))
    except ClientError as error:
        if storage.error_code(error) == "ExecutionAlreadyExists":
            return False
        raise
    return True


def is_execution_end(event: dict) -> bool:
    """EventBridge's word that a state machine execution ended (the stack sends only the
    unfinished ones: timed out, aborted or failed)."""
    return (
        event.get("source") == "aws.states"
        and event.get("detail-type") == "Step Functions Execution Status Change"
    )


def unfinished_run(event: dict) -> dict:
    """The run of an execution that ended unfinished, with why, for its failure record."""
    detail = event["detail"]
    status = detail.get("status", "FAILED")
    cause = detail.get("cause") or f"the execution ended {status}"
    return {**json.loads(detail["input"]), "error": {"Error": f"States.{status}", "Cause": cause}}


def distributed_folder(layout: Layout, run: dict) -> str:
    return layout.run_prefix(run["name"], run["run_id"]) + DISTRIBUTED_FOLDER


def plan(s3, run: dict, *, layout: Layout, env: Mapping[str, str]) -> dict:
    """Cut the run's object(s) into parts; write the plan; return where it is."""
    files = _manifest_files(s3, run) if run["key"].endswith(MANIFEST_SUFFIX) else [run]
    folder = distributed_folder(layout, run)
    items = []
    header = None
    for file in files:
        file_header, data_start, compressed = _header(s3, file)
        if header is None:
            header = file_header
        elif file_header != header:
            raise InputError(
                "malformed_csv",
                f"the part file {file['key']} has the header {','.join(file_header)}; "
                f"the first part has {','.join(header)}",
            )
        ranges = (
            [(0, file["size"])]
            if compressed
            else distributed.byte_ranges(data_start, file["size"], part_bytes(env))
        )
        for start, end in ranges:
            index = len(items)
            items.append(
                {
                    "index": index,
                    "bucket": run["bucket"],
                    "key": file["key"],
                    "version_id": file.get("version_id"),
                    "etag": file["etag"],
                    "start": start,
                    "end": end,
                    "whole_file": compressed,
                    "header": header,
                    "settings": run["settings"],
                    "statistics_key": f"{folder}part-{index:05d}.json",
                }
            )
    key = folder + PLAN_FILE
    storage.put(s3, run["bucket"], key, json.dumps(items).encode())
    return {"bucket": run["bucket"], "key": key, "parts": len(items)}


def part(s3, item: dict) -> dict:
    """One part's statistics, written where the plan says; an input problem is written as
    the part's result (the reduce ends the run with it), S3 errors raise (retried)."""
    hyperparameters = Hyperparameters.from_strings(item["settings"])
    spec = spec_named(hyperparameters.dataset)
    body = _open(s3, item, first_byte=0 if item["whole_file"] else max(item["start"] - 1, 0))
    try:
        if item["whole_file"]:
            _, blocks = split_header(line_blocks(plain(body, None)))
            chunks = (block for block, _ in blocks)
        else:
            chunks = owned_lines(body, item["start"], item["end"])
        statistics = load_part(
            chunks,
            item["header"],
            spec=spec,
            test_size=hyperparameters.test_size,
            split_seed=hyperparameters.split_seed,
        )
        result = distributed.part_result(item["index"], statistics)
    except InputError as error:
        result = distributed.part_failure(item["index"], 0, error)
    finally:
        body.close()
    result["key"] = item["key"]
    # Compact: a part's sample of test rows is thousands of numbers, read only by the reduce.
    storage.put(s3, item["bucket"], item["statistics_key"], to_json(result, indent=None))
    return {"index": item["index"], "failed": result["error"] is not None}


def parts_dataset(s3, run: dict):
    """The run's dataset, summed from its parts' statistics (``reduce``'s first half)."""
    plan_location = run["plan"]
    items, _ = storage.read_json(s3, plan_location["bucket"], plan_location["key"])
    hyperparameters = Hyperparameters.from_strings(run["settings"])
    spec = spec_named(hyperparameters.dataset)
    sample = TestSample.empty(len(spec.features))
    results = []
    # Thousands of parts: read them a few dozen at a time, not a thread each, and fold each
    # part's sample of test rows in as it arrives, so only the statistics stay in memory.
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="parts") as pool:
        read = pool.map(
            lambda item: storage.read_json(s3, item["bucket"], item["statistics_key"])[0], items
        )
        for result in read:
            if result is not None:
                sample = distributed.merge_sample(sample, result, hyperparameters.split_seed)
                results.append(result)
    return distributed.reduce(
        results,
        parts=len(items),
        header=items[0]["header"],
        spec=spec,
        test_size=hyperparameters.test_size,
        test_sample=sample,
    )


def _manifest_files(s3, run: dict) -> list[dict]:
    """The part files a manifest names: ``{"parts": [keys]}`` or ``{"prefix": "..."}``."""
    manifest, _ = storage.read_json(s3, run["bucket"], run["key"])
    if not isinstance(manifest, dict) or not (manifest.get("parts") or manifest.get("prefix")):
        raise InputError(
            "bad_manifest",
            f"{run['key']} is not a manifest: expected a JSON object with a list of part "
            '"parts" (keys) or a "prefix"',
        )
    if manifest.get("parts"):
        keys = [str(key) for key in manifest["parts"]]
    else:
        keys = _listed(s3, run["bucket"], str(manifest["prefix"]))
    files = []
    for key in keys:
        try:
            head = s3.head_object(Bucket=run["bucket"], Key=key)
        except ClientError as error:
            if storage.error_code(error) in ("404", "NoSuchKey", "403", "AccessDenied"):
                raise InputError(
                    "input_missing",
                    f"the manifest's part s3://{run['bucket']}/{key} cannot be read",
                ) from None
            raise
        etag = head["ETag"].strip('"')
        files.append(
            {"bucket": run["bucket"], "key": key, "etag": etag, "size": head["ContentLength"]}
        )
    if not files:
        raise InputError("bad_manifest", f"{run['key']} names no part files")
    return files


def _listed(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sorted(key for key in keys if key.endswith((".csv", ".csv.gz")))


def _header(s3, file: dict) -> tuple[list[str], int, bool]:
    """A file's header, where its data starts, and whether it is gzip-compressed."""
    body = _open(s3, file, first_byte=0, last_byte=MAX_LINE_BYTES)
    try:
        head = body.read()
    finally:
        body.close()
    compressed = head[:2] == b"\x1f\x8b"
    if compressed:
        # Its header is inside the compressed stream: decompress just enough of it.
        body = _open(s3, file, first_byte=0)
        try:
            header, _ = split_header(line_blocks(plain(body, None), MAX_LINE_BYTES))
        finally:
            body.close()
        return header, 0, True
    header, _ = split_header(line_blocks(plain(io.BytesIO(head), None)))
    line_end = head.find(b"\n")
    return header, (line_end + 1 if line_end >= 0 else len(head)), False


def _open(s3, item: dict, *, first_byte: int, last_byte: int | None = None):
    options = {"VersionId": item["version_id"]} if item.get("version_id") else {}
    byte_range = f"bytes={first_byte}-{'' if last_byte is None else last_byte}"
    condition = {"IfMatch": f'"{item["etag"]}"'}
    response = s3.get_object(
        Bucket=item["bucket"], Key=item["key"], Range=byte_range, **condition, **options
    )
    return response["Body"]
