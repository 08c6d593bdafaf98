"""What several test modules share: paths, the test bucket, sample events and data.

Test modules import from here (and fixtures come from conftest.py), never from each other.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pandas as pd
from botocore.exceptions import ClientError

from linreg.contract import MODEL_PAGE_FILE

# Fake credentials and region, so nothing can ever sign a request for real AWS.
from linreg.local.embedded_s3 import FAKE_AWS as FAKE_AWS

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
IRIS_CSV = ROOT / "data" / "iris.csv"
SAMPLE_EVENT = ROOT / "events" / "s3-put.json"
BUCKET = "linreg-test"


def fake_client_keys() -> dict[str, str]:
    """The fake credentials as boto3 client arguments."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return {name.lower(): FAKE_AWS[name] for name in names}


def keys(s3, prefix: str = "") -> list[str]:
    """Every key in the test bucket under ``prefix``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def run_keys(s3, prefix: str = "models/") -> list[str]:
    """The keys under ``prefix`` but the models' pages (models/<name>/index.html), which
    every run rewrites, failed ones included: what runs wrote there."""
    return [key for key in keys(s3, prefix) if not key.endswith("/" + MODEL_PAGE_FILE)]


def read_json(s3, key: str) -> dict:
    """One JSON object of the test bucket."""
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def event_for(key: str, **object_fields) -> dict:
    """The sample S3 event, pointed at the test bucket and ``key`` (encoded as S3 sends it)."""
    event = json.loads(SAMPLE_EVENT.read_text())
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = BUCKET
    record["object"] = {**record["object"], "key": quote_plus(key), **object_fields}
    return event


def iris_like(rows: int, seed: int = 0) -> bytes:
    """A synthetic iris-shaped CSV (the benchmark's generator, small)."""
    rng = np.random.default_rng(seed)
    species = np.array(["setosa", "versicolor", "virginica"])[rng.integers(0, 3, rows)]
    numbers = np.round(rng.normal(3, 1, size=(rows, 4)), 1)
    frame = pd.DataFrame(
        numbers, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"]
    )
    frame["iris"] = species
    return frame.to_csv(index=False, float_format="%.1f").encode()


def with_bad_cell(csv: bytes, line: int) -> bytes:
    """``csv`` with its ``line``-th line (the header is line 1) replaced by a row whose
    petal_length is not a number."""
    lines = csv.splitlines(keepends=True)
    lines[line - 1] = b"5.0,3.1,x,0.2,setosa\n"
    return b"".join(lines)


@contextmanager
def s3_server() -> Iterator[str]:
    """An empty moto S3 server on a free port of 127.0.0.1, for code in another process or
    container; yields its URL. moto's state is per process: it is reset first."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        yield endpoint
    finally:
        server.stop()


class FakeStepFunctions:
    """Records the executions started, with StartExecution's idempotency as AWS defines it:
    the same name and input as a running execution succeeds again with the same answer; a
    closed execution (``close``) or another input is ExecutionAlreadyExists."""

    def __init__(self) -> None:
        self.executions: dict[str, dict] = {}
        self.inputs: dict[str, str] = {}
        self.closed: set[str] = set()

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict:
        answer = {"executionArn": f"{stateMachineArn}:{name}"}
        if name in self.inputs:
            if self.inputs[name] == input and name not in self.closed:
                return answer
            error = {"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}
            raise ClientError(error, "StartExecution")
        self.executions[name], self.inputs[name] = json.loads(input), input
        return answer

    def close(self, name: str) -> None:
        """The execution ends (succeeded, failed, timed out: closed all the same)."""
        self.closed.add(name)


def process(s3, key: str, env: dict, sfn: FakeStepFunctions) -> dict:
    """The function's outcome for an upload, with ``sfn`` as its Step Functions."""
    from linreg.config import Limits, env_settings
    from linreg.service import upload
    from linreg.service.event import s3_records
    from linreg.service.layout import Layout

    (record,) = s3_records(event_for(key))
    outcome = upload.process(
        s3,
        record,
        layout=Layout.from_env(env),
        settings=env_settings(env),
        limits=Limits.from_env(env),
        env=env,
        sfn=lambda: sfn,
    )
    return outcome.as_dict()


def started_run(s3, key: str, env: dict) -> dict:
    """The execution input the function starts for an upload (``env`` routes it to a state
    machine), without running it."""
    sfn = FakeStepFunctions()
    outcome = process(s3, key, env, sfn)
    assert outcome["status"] == "started", outcome
    (run,) = sfn.executions.values()
    return run


# A state machine ARN for the function's environment: the tests run the steps themselves.
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:linreg"


def scale_out_environment(monkeypatch, *, part_bytes: int) -> dict:
    """The function's environment routing uploads above 1 MiB to the state machine, in
    parts of ``part_bytes``; set in os.environ too, for the handler the state machine calls."""
    env = {
        "LINREG_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "LINREG_DISTRIBUTED_ABOVE_BYTES": str(1 << 20),
        "LINREG_PART_BYTES": str(part_bytes),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def real_function(event: dict) -> dict:
    """The function as Lambda runs it, for the state machine's steps."""
    from linreg import handler

    return handler.lambda_handler(event, None)
