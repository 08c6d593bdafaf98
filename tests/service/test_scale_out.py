"""The scale-out path through the handler, its steps driven here in the state machine's
order (plan, each part, reduce) on a moto S3: the same model as one pass over the file,
one execution per run, and the same failure record as a single run would write."""

import gzip
import json

import numpy as np
import pytest

from helpers import (
    BUCKET,
    FakeStepFunctions,
    event_for,
    iris_like,
    keys,
    process,
    read_json,
    with_bad_cell,
)
from linreg import handler

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:linreg-scale-out"
# 1.2 million rows: above the exact-split size, so one pass splits by the hashed split too.
ROWS = 1_200_000


def scale_out_env(**overrides: str) -> dict:
    return {
        "LINREG_STATE_MACHINE_ARN": ARN,
        "LINREG_DISTRIBUTED_ABOVE_BYTES": str(1 << 20),
        "LINREG_PART_BYTES": str(4 << 20),
        **overrides,
    }


def hand_over(s3, key: str, env: dict) -> tuple[dict, dict]:
    """The function's outcome for an upload, and the execution input it started."""
    sfn = FakeStepFunctions()
    outcome = process(s3, key, env, sfn)
    (run,) = sfn.executions.values()
    return outcome, run


def execute(s3, run: dict, env: dict) -> dict:
    """What the state machine does with a run: plan, every part, reduce."""
    plan = handler.step({**run, "linreg_step": "plan"}, s3=s3, env=env)
    if plan["refused"] is not None:
        return plan["refused"]
    items = json.loads(s3.get_object(Bucket=plan["bucket"], Key=plan["key"])["Body"].read())
    for item in items:
        handler.step({"linreg_step": "part", "item": item}, s3=s3, env=env)
    return handler.step({"linreg_step": "reduce", "run": {**run, "plan": plan}}, s3=s3, env=env)


@pytest.fixture(scope="module")
def big_csv() -> bytes:
    return iris_like(ROWS)


@pytest.mark.slow
def test_a_large_upload_is_handed_to_the_state_machine(s3, big_csv):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv)

    outcome, run = hand_over(s3, "incoming/big.csv", scale_out_env())

    assert outcome["status"] == "started" and run["run_id"] == outcome["run_id"]
    # Nothing but the mark of the delivery that started it, until the state machine runs.
    assert keys(s3, "models/") == [f"models/big/{run['run_id']}/distributed/started.json"]


@pytest.mark.slow
def test_a_file_trained_in_parts_gets_the_one_pass_model(s3, big_csv):
    for key in ("incoming/big.csv", "incoming/one-pass.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=big_csv)
    (single,) = handler.handle_event(event_for("incoming/one-pass.csv"), s3=s3, env={})
    _, run = hand_over(s3, "incoming/big.csv", scale_out_env())

    outcome = execute(s3, run, scale_out_env())

    report = read_json(s3, outcome["prefix"] + "report.json")
    one_pass = read_json(s3, single["prefix"] + "report.json")
    assert report["execution"] == {"mode": "distributed", "parts": 8}
    assert report["rows"] == one_pass["rows"]
    np.testing.assert_allclose(
        list(report["params"]["weights"].values()),
        list(one_pass["params"]["weights"].values()),
        rtol=1e-9,
    )


def test_a_duplicate_delivery_starts_no_second_execution(s3, big_csv):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv)
    sfn = FakeStepFunctions()

    first, second = (process(s3, "incoming/big.csv", scale_out_env(), sfn) for _ in range(2))

    assert len(sfn.executions) == 1
    assert not first.get("duplicate") and second["duplicate"] is True


@pytest.mark.slow
def test_a_bad_row_in_one_part_ends_the_run_as_a_single_run_would(s3, big_csv):
    bad = with_bad_cell(big_csv, 700_001)
    for key in ("incoming/bad.csv", "incoming/bad-one-pass.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=bad)
    (single,) = handler.handle_event(event_for("incoming/bad-one-pass.csv"), s3=s3, env={})
    _, run = hand_over(s3, "incoming/bad.csv", scale_out_env())

    outcome = execute(s3, run, scale_out_env())

    assert (outcome["code"], outcome["message"]) == (single["code"], single["message"])
    assert "line 700001" in outcome["message"]


def test_a_missing_part_stops_the_reduce(s3, big_csv):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv)
    env = scale_out_env()
    _, run = hand_over(s3, "incoming/big.csv", env)
    plan = handler.step({**run, "linreg_step": "plan"}, s3=s3, env=env)
    items = json.loads(s3.get_object(Bucket=plan["bucket"], Key=plan["key"])["Body"].read())
    for item in items[:-1]:
        handler.step({"linreg_step": "part", "item": item}, s3=s3, env=env)

    with pytest.raises(RuntimeError, match="no statistics"):
        handler.step({"linreg_step": "reduce", "run": {**run, "plan": plan}}, s3=s3, env=env)
    assert not [key for key in keys(s3, "models/") if key.endswith("report.json")]


def test_a_manifest_of_part_files_trains_them_as_one_dataset(s3):
    parts = [iris_like(2000, seed=seed) for seed in range(3)]
    for index, part in enumerate(parts):
        body = gzip.compress(part) if index == 2 else part
        suffix = ".csv.gz" if index == 2 else ".csv"
        s3.put_object(Bucket=BUCKET, Key=f"incoming/spark/part-{index:05d}{suffix}", Body=body)
    manifest = {"prefix": "incoming/spark/"}
    s3.put_object(
        Bucket=BUCKET, Key="incoming/spark.manifest.json", Body=json.dumps(manifest).encode()
    )
    env = scale_out_env()
    outcome, run = hand_over(s3, "incoming/spark.manifest.json", env)

    done = execute(s3, run, env)

    report = read_json(s3, done["prefix"] + "report.json")
    assert done["status"] == "succeeded" and report["rows"]["total"] == 6000
    assert done["prefix"].startswith("models/spark/")


@pytest.mark.slow
def test_the_fail_step_leaves_a_failure_record(s3, big_csv):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv)
    env = scale_out_env()
    _, run = hand_over(s3, "incoming/big.csv", env)
    error = {"Error": "States.Timeout", "Cause": "the execution timed out"}

    outcome = handler.step({"linreg_step": "fail", "run": {**run, "error": error}}, s3=s3, env=env)

    assert outcome["code"] == "run_failed" and "States.Timeout" in outcome["message"]
    assert keys(s3, "failures/") == [outcome["failure_key"]]


def test_an_execution_that_timed_out_leaves_a_failure_record_once(s3, big_csv, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv)
    _, run = hand_over(s3, "incoming/big.csv", scale_out_env())
    monkeypatch.setenv("LINREG_STATE_MACHINE_ARN", ARN)
    ended = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "status": "TIMED_OUT",
            "stateMachineArn": ARN,
            "input": json.dumps(run),
            "name": run["run_id"],
        },
    }

    first, again = (handler.lambda_handler(ended, None) for _ in range(2))

    assert first["code"] == "run_failed" and "States.TIMED_OUT" in first["message"]
    assert again["duplicate"] is True
    assert keys(s3, "failures/") == [first["failure_key"]]


def test_a_large_upload_beyond_the_operators_limits_is_refused_before_it_starts(s3, big_csv):
    s3.put_object(
        Bucket=BUCKET, Key="incoming/big.csv", Body=big_csv, Metadata={"iterations": "500000"}
    )
    sfn = FakeStepFunctions()

    outcome = process(s3, "incoming/big.csv", scale_out_env(), sfn)

    assert outcome["code"] == "invalid_hyperparameters" and sfn.executions == {}
