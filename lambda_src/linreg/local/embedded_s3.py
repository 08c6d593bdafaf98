"""An embedded S3 (moto's server on 127.0.0.1) for running the function with no AWS account."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

from linreg.errors import InputError, excerpt
from linreg.local import require_moto

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from linreg.service.layout import Layout

# Fake credentials keep boto3 from looking for real ones (and from ever signing for AWS).
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def embedded_s3() -> Iterator[str]:
    """Start an S3 server on a free loopback port and point boto3 at it; yields its URL.

    Inside the block every new boto3 S3 client talks to it (``AWS_ENDPOINT_URL_S3``);
    the environment is restored and the server stopped on exit.
    """
    require_moto()
    from moto.server import ThreadedMotoServer

    # The server's request log would drown the command's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its buckets per process: an earlier server's must not show through.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    try:
        with mock.patch.dict(os.environ, {**FAKE_AWS, "AWS_ENDPOINT_URL_S3": url}):
            yield url
    finally:
        server.stop()


# The bucket a folder written by ``linreg invoke --out`` stands for while it is served.
FOLDER_BUCKET = "local"


def mirror_root(path: Path, models_prefix: str) -> Path | None:
    """The folder holding a local copy of a bucket's keys (what ``linreg invoke --out``
    writes) that ``path``, a model's folder or a run's, lies in: the nearest one in which
    ``path`` is under ``models_prefix``."""
    path = path.resolve()
    for root in path.parents:
        key = path.relative_to(root).as_posix() + "/"
        if key.startswith(models_prefix) and key != models_prefix:
            return root
    return None


def load_folder(s3: S3Client, bucket: str, root: Path, prefixes: Iterable[str]) -> None:
    """Put the files under each ``root/<prefix>`` into ``bucket``, keyed by their path below
    ``root``: a bucket's local copy back in a bucket. Only the output prefixes are loaded:
    uploads are the user's files, not the copy's."""
    for prefix in prefixes:
        for path in sorted((root / prefix).rglob("*")):
            if path.is_file():
                key = path.relative_to(root).as_posix()
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


@contextmanager
def served_copy(model: str, layout: Layout) -> Iterator[tuple[S3Client, str, Path]]:
    """A client of an embedded S3 holding the bucket copy ``model`` (a folder) lies in, the
    s3:// address of ``model`` there, and the copy's root. The copy is what ``linreg invoke
    --out`` writes, so runs and predict read it as they read a bucket, with the same code."""
    import boto3

    from linreg.local.embedded_s3 import FOLDER_BUCKET, embedded_s3, load_folder, mirror_root

    path = Path(model)
    root = mirror_root(path, layout.models)
    if root is None:
        raise InputError(
            "bad_model",
            f"{excerpt(model)} is neither an s3://bucket/... address nor a folder under "
            f"{layout.models} of a bucket's local copy (what linreg invoke --out writes)",
        )
    if not path.is_dir():
        raise InputError("model_not_found", f"{excerpt(model)} does not exist")
    with embedded_s3():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=FOLDER_BUCKET)
        load_folder(s3, FOLDER_BUCKET, root, (layout.models, layout.failures))
        yield s3, f"s3://{FOLDER_BUCKET}/{path.resolve().relative_to(root).as_posix()}", root
