"""An embedded S3 (moto's server on 127.0.0.1) for running the function with no AWS account."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

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
    from moto.server import ThreadedMotoServer

    # The server's request log would drown the command's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        with mock.patch.dict(os.environ, {**FAKE_AWS, "AWS_ENDPOINT_URL_S3": url}):
            yield url
    finally:
        server.stop()
