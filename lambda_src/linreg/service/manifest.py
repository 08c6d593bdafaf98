"""A manifest of part files, read as untrusted input: which objects a distributed run may
train on, checked before any of them is read.

An upload ending ``.manifest.json`` names a dataset of part files, ``{"parts": [keys]}`` or
``{"prefix": "..."}``. Whoever may upload may write one, and the function may read more
than the uploads (its own outputs, other models' statistics), so a manifest may name only
what an upload could be: ``.csv`` or ``.csv.gz`` objects under the upload prefix. Anything
else is refused unread, and the dataset is bounded like one upload: at most
``max_parts`` files and ``max_bytes`` in all.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from linreg.contract import MAX_INPUT_BYTES_ENV, MAX_PARTS_ENV, UPLOAD_SUFFIXES
from linreg.errors import InputError, excerpt, is_hidden
from linreg.payloads import RunPayload
from linreg.service import storage
from linreg.service.layout import MAX_KEY_BYTES, Layout
from linreg.service.storage import InputObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A manifest of 10,000 keys of ~100 bytes; larger datasets list a prefix instead.
MAX_MANIFEST_BYTES = 1 << 20
# Objects described at once: below boto3's 10 pooled connections per client.
HEAD_THREADS = 8


def part_files(
    s3: S3Client, upload: RunPayload, *, layout: Layout, max_parts: int, max_bytes: int
) -> list[InputObject]:
    """The part files ``upload`` (a manifest's run) names, described, in the manifest's
    order (key order for a prefix), each once."""
    document = _read(s3, upload)
    keys = _keys(s3, upload, document, layout=layout, max_parts=max_parts)
    if not keys:
        raise InputError("bad_manifest", f"{upload['key']} names no part files")
    with ThreadPoolExecutor(HEAD_THREADS, thread_name_prefix="head") as pool:
        files = list(
            pool.map(
                lambda key: storage.describe_input(
                    s3, upload["bucket"], key, version_id=None, sequencer=None
                ),
                keys,
            )
        )
    total = sum(file.size for file in files)
    if total > max_bytes:
        raise InputError(
            "too_large",
            f"the manifest's {len(files):,} part files hold {total:,} bytes; the limit is "
            f"{max_bytes:,} ({MAX_INPUT_BYTES_ENV})",
        )
    return files


def check_part_count(count: int, max_parts: int, *, what: str) -> None:
    """Refuse a run of more parts than the deployment's limit, before any is trained."""
    if count > max_parts:
        raise InputError(
            "too_many_parts",
            f"{what} makes more than {max_parts:,} parts, this deployment's limit "
            f"({MAX_PARTS_ENV}); join part files or raise the part size",
        )


def _read(s3: S3Client, upload: RunPayload) -> dict:
    """The manifest's JSON object, read at most ``MAX_MANIFEST_BYTES`` of it."""
    options: dict[str, Any] = (
        {"VersionId": upload["version_id"]} if upload.get("version_id") else {}
    )
    try:
        body = s3.get_object(
            Bucket=upload["bucket"],
            Key=upload["key"],
            Range=f"bytes=0-{MAX_MANIFEST_BYTES}",
            IfMatch=f'"{upload["etag"]}"',
            **options,
        )["Body"].read()
    except ClientError as error:
        if storage.error_code(error) in (*storage.PRECONDITION_FAILED, *storage.MISSING):
            raise InputError(
                "input_missing", f"{upload['key']} was replaced or deleted during the run"
            ) from None
        raise
    if len(body) > MAX_MANIFEST_BYTES:
        raise InputError(
            "bad_manifest",
            f"{upload['key']} is larger than {MAX_MANIFEST_BYTES:,} bytes; "
            'name the part files by a "prefix" instead',
        )
    try:
        document = json.loads(body)
    except ValueError as error:
        raise InputError("bad_manifest", f"{upload['key']} is not JSON: {error}") from None
    return document


def _keys(
    s3: S3Client, upload: RunPayload, document: object, *, layout: Layout, max_parts: int
) -> list[str]:
    name = upload["key"]
    expected = 'expected a JSON object with "parts" (a list of keys) or "prefix" (a key prefix)'
    if not isinstance(document, dict) or len({"parts", "prefix"} & set(document)) != 1:
        raise InputError("bad_manifest", f"{name} is not a manifest: {expected}")
    if "parts" in document:
        listed = document["parts"]
        if not isinstance(listed, list) or not all(isinstance(key, str) for key in listed):
            raise InputError("bad_manifest", f'{name}: "parts" must be a list of keys')
        # The same file named twice would be trained on twice.
        keys = list(dict.fromkeys(listed))
        check_part_count(len(keys), max_parts, what=name)
        for key in keys:
            _check_key(key, layout, name)
        return keys
    prefix = document["prefix"]
    if not isinstance(prefix, str) or not prefix:
        raise InputError("bad_manifest", f'{name}: "prefix" must be a non-empty key prefix')
    _check_prefix(prefix, layout, name)
    return _listed(s3, upload["bucket"], prefix, max_parts=max_parts, what=name)


def _check_key(key: str, layout: Layout, manifest: str) -> None:
    problem = _key_problem(key, layout)
    if problem:
        raise InputError("bad_manifest", f"{manifest} names {excerpt(key)}, {problem}")


def _key_problem(key: str, layout: Layout) -> str | None:
    """Why a manifest may not name ``key``, or ``None``: only what an upload could be."""
    if not key.startswith(layout.incoming):
        return f"which is outside the upload prefix {layout.incoming}"
    if not key.endswith(UPLOAD_SUFFIXES):
        return "which is not a .csv or .csv.gz file"
    if any(is_hidden(char) for char in key):
        return "which holds control, invisible or direction-changing characters"
    if any(segment in ("", ".", "..") for segment in key.split("/")[:-1]):
        return "which has an empty, '.' or '..' folder"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"which is longer than S3's {MAX_KEY_BYTES:,}-byte keys"
    return None


def _check_prefix(prefix: str, layout: Layout, manifest: str) -> None:
    if not prefix.startswith(layout.incoming):
        raise InputError(
            "bad_manifest",
            f"{manifest} names the prefix {excerpt(prefix)}, outside the upload prefix "
            f"{layout.incoming}",
        )


def _listed(s3: S3Client, bucket: str, prefix: str, *, max_parts: int, what: str) -> list[str]:
    """The .csv and .csv.gz keys below ``prefix`` in key order; listing stops once there
    are too many."""
    keys: list[str] = []
    for key in storage.list_keys(s3, bucket, prefix):
        if key.endswith(UPLOAD_SUFFIXES):
            keys.append(key)
            check_part_count(len(keys), max_parts, what=what)
    return sorted(keys)
