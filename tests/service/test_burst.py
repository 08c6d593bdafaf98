"""A burst of 200 deliveries handled concurrently against the embedded S3 server: every
upload gets exactly one outcome (a run or a failure record), none lost, none doubled.
Bounded in size and time; a correctness test, not a benchmark."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import boto3
import pytest

from helpers import BUCKET, event_for, keys

GOOD, BAD, REDELIVERED = 170, 20, 10  # 200 deliveries in all
WORKERS = 4
ENV = {"LINREG_ITERATIONS": "5"}


@pytest.fixture(scope="module")
def server():
    from linreg.local.embedded_s3 import embedded_s3

    with embedded_s3() as url:
        yield url


def start_worker(env: dict) -> None:
    os.environ.update(env)


def handle(event: dict) -> dict:
    from linreg import handler

    (outcome,) = handler.handle_event(event, s3=handler.s3_client(), env=ENV)
    return outcome


@pytest.mark.slow
def test_every_upload_in_a_burst_gets_exactly_one_outcome(server, iris_bytes):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    good = [f"incoming/burst/good-{i:03d}.csv" for i in range(GOOD)]
    bad = [f"incoming/burst/bad-{i:03d}.csv" for i in range(BAD)]
    for key in good:
        s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)
    for key in bad:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"sepal_length\n1\n")
    # Redeliveries sit next to their originals, so both copies are in flight together.
    deliveries = []
    for index, key in enumerate(good + bad):
        deliveries.append(event_for(key))
        if index < REDELIVERED:
            deliveries.append(event_for(key))
    assert len(deliveries) == 200

    # Spawned processes: MXNet is not safe to fork or to share between threads.
    context = multiprocessing.get_context("spawn")
    worker_env = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
    with ProcessPoolExecutor(
        WORKERS, mp_context=context, initializer=start_worker, initargs=(worker_env,)
    ) as pool:
        outcomes = list(pool.map(handle, deliveries, timeout=300))

    assert len(outcomes) == 200
    assert sum(bool(o.get("duplicate")) for o in outcomes) == REDELIVERED
    reports = [k for k in keys(s3, "models/") if k.endswith("report.json")]
    failures = keys(s3, "failures/")
    assert sorted(k.split("/")[2] for k in reports) == [k.split("/")[2][:-4] for k in good]
    assert sorted(k.split("/")[2] for k in failures) == [k.split("/")[2][:-4] for k in bad]
    latest = [k for k in keys(s3, "models/") if k.endswith("latest.json")]
    assert len(latest) == GOOD
