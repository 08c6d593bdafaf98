"""Transient S3 errors and untrusted events in a distributed run, through the handler and
the stack's synthesized state machine in moto: a run ends published
(report.json, then latest.json) or with one failure record, never both, and an event
about anything but this function's own runs changes nothing."""

import json
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

from helpers import (
    BUCKET,
    STATE_MACHINE_ARN,
    FakeStepFunctions,
    iris_like,
    keys,
    process,
    read_json,
    real_function,
    started_run,
)
from linreg import handler
from linreg.local.state_machine import run_state_machine

ROWS = 60_000


@pytest.fixture
def big(s3) -> str:
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=iris_like(ROWS))
    return "incoming/big.csv"


@contextmanager
def slow_down(operation: str, key_ending: str, times: int = 1, *, client=None):
    """The function's S3 client answers SlowDown to the first ``times`` calls of
    ``operation`` on a key ending ``key_ending``, as S3 does under load."""
    left = [times]

    def fault(params, **_) -> None:
        if params.get("Key", "").endswith(key_ending) and left[0] > 0:
            left[0] -= 1
            error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
            raise ClientError(error, operation)

    events = (client or handler.s3_client()).meta.events
    events.register(f"before-parameter-build.s3.{operation}", fault, unique_id="slow-down")
    try:
        yield left
    finally:
        events.unregister(f"before-parameter-build.s3.{operation}", unique_id="slow-down")


def test_a_slow_down_on_latest_json_is_retried_into_a_published_run(
    s3, template, big, scale_out_env
):
    run = started_run(s3, big, scale_out_env)

    with slow_down("PutObject", "latest.json") as left:
        execution = run_state_machine(
            template, real_function, run, bucket=BUCKET, retry_wait_scale=0.01
        )

    assert left == [0]
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    latest = read_json(s3, "models/big/latest.json")
    assert latest["run_id"] == run["run_id"]
    assert keys(s3, "failures/") == []


def test_a_slow_down_on_a_head_in_plan_is_retried(s3, template, scale_out_env):
    for index in range(2):
        key = f"incoming/heads/part-{index:05d}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=iris_like(500, seed=index))
    s3.put_object(
        Bucket=BUCKET, Key="incoming/heads.manifest.json", Body=b'{"prefix": "incoming/heads/"}'
    )
    run = started_run(s3, "incoming/heads.manifest.json", scale_out_env)

    with slow_down("HeadObject", "part-00001.csv") as left:
        execution = run_state_machine(
            template, real_function, run, bucket=BUCKET, retry_wait_scale=0.01
        )

    assert left == [0]
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output["status"] == "succeeded"
    assert keys(s3, "failures/") == []


def test_the_fail_step_completes_a_published_run_instead_of_recording_it(s3, big, scale_out_env):
    run = started_run(s3, big, scale_out_env)
    plan = handler.step({**run, "linreg_step": "plan"}, s3=s3, env=scale_out_env)
    items = json.loads(s3.get_object(Bucket=plan["bucket"], Key=plan["key"])["Body"].read())
    for item in items:
        handler.step({"linreg_step": "part", "item": item}, s3=s3, env=scale_out_env)
    reduce = {"linreg_step": "reduce", "run": {**run, "plan": plan}}
    with slow_down("PutObject", "latest.json", 100, client=s3), pytest.raises(ClientError):
        handler.step(reduce, s3=s3, env=scale_out_env)
    assert [key for key in keys(s3, "models/big/") if key.endswith("report.json")]

    outcome = handler.step(
        {"linreg_step": "fail", "run": {**run, "error": {"Error": "x", "Cause": "y"}}},
        s3=s3,
        env=scale_out_env,
    )

    assert outcome["status"] == "succeeded" and outcome["latest_moved"] is True
    assert keys(s3, "failures/") == []
    assert read_json(s3, "models/big/latest.json")["run_id"] == run["run_id"]


def execution_end(run: dict, *, arn: str = STATE_MACHINE_ARN, name: str | None = None) -> dict:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "status": "TIMED_OUT",
            "stateMachineArn": arn,
            "name": run["run_id"] if name is None else name,
            "input": json.dumps(run),
        },
    }


def test_an_execution_end_from_another_state_machine_is_skipped(s3, big, scale_out_env):
    run = started_run(s3, big, scale_out_env)

    answer = handler.lambda_handler(execution_end(run, arn=STATE_MACHINE_ARN + "-other"), None)

    assert answer["status"] == "skipped" and keys(s3, "failures/") == []


def test_an_execution_end_for_a_run_the_function_never_started_is_skipped(s3, big, scale_out_env):
    run = started_run(s3, big, scale_out_env)
    forged = {**run, "name": "../victim", "run_id": run["run_id"]}

    answers = [
        handler.lambda_handler(execution_end(forged), None),
        handler.lambda_handler(execution_end({**run, "settings": {"seed": "9"}}), None),
        handler.lambda_handler(execution_end(run, name="not-a-run-id"), None),
    ]

    assert [answer["status"] for answer in answers] == ["skipped"] * 3
    assert keys(s3, "failures/") == []


def test_an_execution_end_for_a_published_run_writes_no_failure_record(
    s3, template, big, scale_out_env
):
    run = started_run(s3, big, scale_out_env)
    assert run_state_machine(template, real_function, run, bucket=BUCKET).status == "SUCCEEDED"

    answer = handler.lambda_handler(execution_end(run), None)

    assert answer["status"] == "succeeded" and answer["duplicate"] is True
    assert keys(s3, "failures/") == []


def test_a_second_delivery_while_the_run_is_in_progress_is_a_duplicate(s3, big, scale_out_env):
    sfn = FakeStepFunctions()

    first = process(s3, big, scale_out_env, sfn)
    second = process(s3, big, scale_out_env, sfn)

    assert first["status"] == second["status"] == "started"
    assert not first.get("duplicate") and second["duplicate"] is True
    assert len(sfn.executions) == 1


def test_a_delivery_after_the_run_ended_is_a_duplicate(s3, big, scale_out_env):
    sfn = FakeStepFunctions()
    first = process(s3, big, scale_out_env, sfn)
    sfn.close(first["run_id"])

    again = process(s3, big, scale_out_env, sfn)

    assert again["status"] == "started" and again["duplicate"] is True
