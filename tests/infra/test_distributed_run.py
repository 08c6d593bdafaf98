"""The synthesized state machine run in moto with the real function serving its steps: a
large upload trained in parts gets the model one pass gets, and a bad row in one part ends
the run with the failure record a single run would write."""

import numpy as np
import pytest

from helpers import (
    BUCKET,
    event_for,
    iris_like,
    read_json,
    real_function,
    scale_out_environment,
    started_run,
    with_bad_cell,
)
from linreg import handler
from linreg.local.state_machine import run_state_machine

# Above the exact-split size: one pass splits these rows by the hashed split too.
ROWS = 1_200_000


@pytest.fixture(scope="module")
def big_csv() -> bytes:
    return iris_like(ROWS)


@pytest.fixture
def scale_out_env(monkeypatch) -> dict:
    return scale_out_environment(monkeypatch, part_bytes=4 << 20)


def test_a_large_upload_trained_in_parts_gets_the_one_pass_model(
    s3, template, big_csv, scale_out_env
):
    for key in ("incoming/big.csv", "incoming/one-pass.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=big_csv)
    (single,) = handler.handle_event(event_for("incoming/one-pass.csv"), s3=s3, env={})
    run = started_run(s3, "incoming/big.csv", scale_out_env)

    execution = run_state_machine(template, real_function, run, bucket=BUCKET)

    assert execution.status == "SUCCEEDED", execution.cause
    assert len(execution.calls_of("part")) == 8
    report = read_json(s3, execution.output["prefix"] + "report.json")
    one_pass = read_json(s3, single["prefix"] + "report.json")
    assert report["execution"] == {"mode": "distributed", "parts": 8}
    assert report["rows"] == one_pass["rows"]
    ours, theirs = report["params"], one_pass["params"]
    np.testing.assert_allclose(
        list(ours["weights"].values()), list(theirs["weights"].values()), rtol=1e-9
    )
    assert ours["bias"] == pytest.approx(theirs["bias"], rel=1e-9)


def test_a_bad_row_in_one_part_gives_the_single_runs_failure_record(
    s3, template, big_csv, scale_out_env
):
    bad = with_bad_cell(big_csv, 900_001)
    for key in ("incoming/bad.csv", "incoming/bad-one-pass.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=bad)
    (single,) = handler.handle_event(event_for("incoming/bad-one-pass.csv"), s3=s3, env={})
    run = started_run(s3, "incoming/bad.csv", scale_out_env)

    execution = run_state_machine(template, real_function, run, bucket=BUCKET)

    assert execution.status == "SUCCEEDED", execution.cause
    outcome = execution.output
    assert (outcome["code"], outcome["message"]) == (single["code"], single["message"])
    record = read_json(s3, outcome["failure_key"])
    assert record["error"]["code"] == "non_numeric"
