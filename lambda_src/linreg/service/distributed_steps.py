"""The scale-out state machine's steps: ``plan`` and ``part`` (the reduce's dataset is
``distributed_reduce``'s).

- ``plan``: read the header(s), cut the object(s) into byte ranges (a ``.csv.gz`` is one
  part), write the plan (a JSON array) under the run's folder;
- ``part`` (one per plan item, in a Distributed Map): the range's statistics, written
  under the run's folder; an input problem is written as the part's result, not raised;
- then ``distributed_reduce.parts_dataset`` sums the parts (all of them, or nothing) into
  the dataset that ``distributed_run`` trains and publishes as one run would.

Also the deployment's settings these read (part size, part cap, the size above which an
upload goes distributed) and the run's folder for them. Every step is safe to repeat: the
state machine retries a step that raised (S3's transient errors), and a retried step
rewrites the same files.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from linreg.config import Hyperparameters, Limits, int_setting
from linreg.contract import (
    DEFAULT_DISTRIBUTED_ABOVE_BYTES,
    DEFAULT_PART_BYTES,
    DISTRIBUTED_ABOVE_BYTES_ENV,
    DISTRIBUTED_FOLDER,
    MANIFEST_SUFFIX,
    MAX_PARTS,
    MAX_PARTS_ENV,
    PART_BYTES_ENV,
    PART_FILE,
    PLAN_FILE,
)
from linreg.deadline import Deadline
from linreg.errors import InputError, RunError, excerpt
from linreg.payloads import ObjectRef, PartResult, PlanItem, PlanRef, RunPayload, Source
from linreg.service import manifest, storage
from linreg.service.layout import Layout
from linreg.service.storage import InputObject
from linreg.spec import spec_named
from linreg.training import parts
from linreg.training.data import (
    GZIP_MAGIC,
    check_header,
    line_blocks,
    line_terminator,
    load_part,
    owned_lines,
    plain,
    split_header,
    whole_file_lines,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# How many part results the reduce reads at once, and headers the plan reads at once.
READ_THREADS = 32
# Each plan item carries the header, and a child's input may hold 256 KiB at most
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html): a header
# of this size leaves most of that free.
MAX_HEADER_BYTES = 64 << 10
# What the plan reads of each file to find its header: one small range request.
HEADER_PROBE_BYTES = 8 << 10


def distributed_above(env: Mapping[str, str]) -> int:
    return int_setting(env, DISTRIBUTED_ABOVE_BYTES_ENV, DEFAULT_DISTRIBUTED_ABOVE_BYTES)


def part_bytes(env: Mapping[str, str]) -> int:
    return int_setting(env, PART_BYTES_ENV, DEFAULT_PART_BYTES)


def max_parts(env: Mapping[str, str]) -> int:
    """The deployment's cap on a run's parts, never above what the state machine holds."""
    return min(int_setting(env, MAX_PARTS_ENV, MAX_PARTS), MAX_PARTS)


def distributed_folder(layout: Layout, run: RunPayload) -> str:
    return layout.run_prefix(run["name"], run["run_id"]) + DISTRIBUTED_FOLDER


# --- plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    """What the plan needs of a file's first bytes."""

    header: list[str]
    data_start: int  # the first byte after the header line (0 for gzip: one whole part)
    compressed: bool
    line_end: str  # "\n" (with or without "\r" before it), or "\r" alone (old Mac files)


def plan(
    s3: S3Client, run: RunPayload, *, layout: Layout, env: Mapping[str, str], limits: Limits
) -> PlanRef:
    """Cut the run's object(s) into parts; write the plan; return where it is. An input
    problem raises ``InputError`` before anything is written."""
    cap = max_parts(env)
    if run["key"].endswith(MANIFEST_SUFFIX):
        files = [
            _file(item)
            for item in manifest.part_files(
                s3, run, layout=layout, max_parts=cap, max_bytes=limits.max_input_bytes
            )
        ]
    else:
        files = [_file(run)]
    with ThreadPoolExecutor(min(READ_THREADS, len(files)), thread_name_prefix="head") as pool:
        heads = list(pool.map(lambda file: _head(s3, file), files))
    header = heads[0].header
    check_header(header, spec_named(Hyperparameters.from_strings(run["settings"]).dataset))
    for file, head in zip(files, heads, strict=True):
        if head.header != header:
            raise InputError(
                "malformed_csv",
                f"the part file {file['key']} has the header {excerpt(','.join(head.header))}; "
                f"the first part has {excerpt(','.join(header))}",
            )
    ranges = [
        (file, head, start, end)
        for file, head in zip(files, heads, strict=True)
        for start, end in (
            [(0, file["size"])]
            if head.compressed
            else parts.byte_ranges(head.data_start, file["size"], part_bytes(env))
        )
    ]
    manifest.check_part_count(len(ranges), cap, what=run["key"])
    folder = distributed_folder(layout, run)
    items = [
        {
            "index": index,
            "bucket": run["bucket"],
            "key": file["key"],
            "version_id": file["version_id"],
            "etag": file["etag"],
            "size": file["size"],
            "start": start,
            "end": end,
            "whole_file": head.compressed,
            "data_start": head.data_start,
            "line_end": head.line_end,
            "header": header,
            "settings": run["settings"],
            "max_bytes": limits.max_input_bytes,
            "statistics_key": folder + PART_FILE.format(index=index),
        }
        for index, (file, head, start, end) in enumerate(ranges)
    ]
    key = folder + PLAN_FILE
    storage.put(s3, run["bucket"], key, json.dumps(items).encode())
    return {"bucket": run["bucket"], "key": key, "parts": len(items)}


def _file(source: RunPayload | Source | InputObject) -> ObjectRef:
    described = source.source() if isinstance(source, InputObject) else source
    return {
        "bucket": described["bucket"],
        "key": described["key"],
        "version_id": described["version_id"],
        "etag": described["etag"],
        "size": described["size"],
    }


def _head(s3: S3Client, file: ObjectRef) -> _Head:
    """A file's header, where its data starts, and how its lines end."""
    head = _read_range(s3, file, 0, HEADER_PROBE_BYTES)
    if head[:2] == GZIP_MAGIC:
        # Its header is inside the compressed stream: decompress just enough of it.
        body = open_range(s3, file, first_byte=0)
        try:
            first, _ = next(line_blocks(plain(body, None), MAX_HEADER_BYTES), (b"", 1))
        finally:
            body.close()
        header, _ = split_header(iter([(_header_line(first, file), 1)]))
        return _Head(header, 0, True, line_terminator(first).decode())
    if not re.search(rb"[\r\n]", head) and len(head) < file["size"]:
        head = _read_range(s3, file, 0, MAX_HEADER_BYTES + 2)
    line = _header_line(head, file)
    header, _ = split_header(iter([(line, 1)]))
    return _Head(header, len(line), False, line_terminator(head).decode())


def _header_line(head: bytes, file: ObjectRef) -> bytes:
    """The header line of ``head`` with its line end; refused past ``MAX_HEADER_BYTES``."""
    line_end = re.search(rb"\r\n|\r|\n", head)
    line = head[: line_end.end()] if line_end else head
    if len(line) > MAX_HEADER_BYTES or (not line_end and len(head) < file["size"]):
        raise InputError(
            "malformed_csv",
            f"the header line of {file['key']} is longer than {MAX_HEADER_BYTES:,} bytes, "
            "the most a file trained in parts may have",
        )
    return line


def _read_range(s3: S3Client, file: ObjectRef, first_byte: int, size: int) -> bytes:
    body = open_range(s3, file, first_byte=first_byte, last_byte=first_byte + size - 1)
    try:
        return body.read()
    finally:
        body.close()


def open_range(s3: S3Client, item: ObjectRef, *, first_byte: int, last_byte: int | None = None):
    """A stream of the planned version's bytes; one replaced since the plan is an input
    problem (the run would mix two files), not a reason to retry."""
    options: dict[str, Any] = {"VersionId": item["version_id"]} if item.get("version_id") else {}
    byte_range = f"bytes={first_byte}-{'' if last_byte is None else last_byte}"
    try:
        response = s3.get_object(
            Bucket=item["bucket"],
            Key=item["key"],
            Range=byte_range,
            IfMatch=f'"{item["etag"]}"',
            **options,
        )
    except ClientError as error:
        code = storage.error_code(error)
        if code in (*storage.PRECONDITION_FAILED, *storage.MISSING):
            raise InputError(
                "input_missing",
                f"s3://{item['bucket']}/{item['key']} was replaced or deleted during the run",
            ) from None
        if code == "InvalidRange":  # an empty object has no byte 0
            return io.BytesIO(b"")
        raise
    return response["Body"]


# --- part ---------------------------------------------------------------------------------


def part(s3: S3Client, item: PlanItem, *, deadline: Deadline | None = None) -> dict[str, int]:
    """One part's statistics, written where the plan says; an input problem is written as
    the part's result (the reduce ends the run with it), S3 errors raise (retried). The
    answer is only the part's index: the Map collects every child's answer, within 256 KiB."""
    started = time.perf_counter()
    hyperparameters = Hyperparameters.from_strings(item["settings"])
    try:
        body = open_range(
            s3, item, first_byte=0 if item["whole_file"] else max(item["start"] - 1, 0)
        )
        try:
            statistics = load_part(
                _part_lines(body, item),
                item["header"],
                spec=spec_named(hyperparameters.dataset),
                test_size=hyperparameters.test_size,
                split_seed=hyperparameters.split_seed,
                deadline=deadline,
            )
        finally:
            body.close()
        result = parts.part_result(item["index"], statistics)
    except RunError as error:
        result = parts.part_failure(item["index"], 0, error)
    result["key"] = item["key"]
    result["seconds"] = time.perf_counter() - started  # for the run's cost
    # Compact: a part's sample of test rows is thousands of numbers, read only by the reduce.
    storage.put(s3, item["bucket"], item["statistics_key"], _compact(result))
    return {"part": item["index"]}


def _part_lines(body, item: PlanItem) -> Iterator[bytes]:
    if item["whole_file"]:
        return whole_file_lines(plain(body, item["max_bytes"]))
    return owned_lines(body, item["start"], item["end"], line_end=item["line_end"].encode())


def _compact(document: PartResult) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
