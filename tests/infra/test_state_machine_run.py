"""The state machine executed in moto (through the harness in state_machine.py), with a fake
function: the payloads each step gets, what the state keeps between steps, and the failure
path. The real handler's run through it belongs to the library's tests."""

from __future__ import annotations

import json
import threading

import boto3
import pytest

from helpers import BUCKET
from linreg.contract import DISTRIBUTED_FOLDER, PLAN_FILE, STEP_FIELD
from linreg.local.state_machine import FUNCTION_ARN, definition, resolve, run_state_machine

PLAN_KEY = f"models/big/0123abcd/{DISTRIBUTED_FOLDER}{PLAN_FILE}"
ITEMS = [{"part": 0, "start": 0}, {"part": 1, "start": 100}, {"part": 2, "start": 200}]
RUN = {
    "bucket": BUCKET,
    "key": "incoming/big.csv",
    "version_id": None,
    "run_id": "0123abcd",
    "name": "big",
    "received": "2024-01-01T00:00:00Z",  # a field only the function knows: passed through
}


class FakeFunction:
    """The three steps as the contract has them: plan writes the plan and says where it is,
    part notes its item, reduce counts what the parts saw; fail notes the run."""

    def __init__(self, *, plan_raises: bool = False, plan_refuses: bool = False) -> None:
        self.plan_raises, self.plan_refuses = plan_raises, plan_refuses
        self.items: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> dict:
        step = event[STEP_FIELD]
        if step == "plan":
            if self.plan_raises:
                raise RuntimeError("the plan could not be written")
            if self.plan_refuses:
                refused = {"status": "failed", "code": "bad_manifest", "failure_key": "f.json"}
                return {"bucket": None, "key": None, "parts": 0, "seconds": 0.1, "refused": refused}
            boto3.client("s3", region_name="us-east-1").put_object(
                Bucket=BUCKET, Key=PLAN_KEY, Body=json.dumps(ITEMS).encode()
            )
            planned = {"bucket": BUCKET, "key": PLAN_KEY, "parts": len(ITEMS), "seconds": 0.1}
            return {**planned, "refused": None}
        if step == "part":
            with self.lock:
                self.items.append(event["item"])
            return {"part": event["item"]["part"]}
        if step == "reduce":
            return {"status": "succeeded", "parts_seen": len(self.items), "run": event["run"]}
        if step == "fail":
            return {"status": "failed", "failure_key": "failures/big/0123abcd.json"}
        raise AssertionError(f"unknown step {step!r}")


@pytest.fixture(scope="module")
def succeeded(template):
    function = FakeFunction()
    return run_state_machine(template, function, RUN, bucket=BUCKET), function


@pytest.fixture(scope="module")
def failed(template):
    # The plan step is retried (with backoff, as in AWS) before the catch; the waits scaled.
    return run_state_machine(
        template, FakeFunction(plan_raises=True), RUN, bucket=BUCKET, retry_wait_scale=0.01
    )


def test_a_run_succeeds_with_the_reduce_steps_answer_as_output(succeeded) -> None:
    execution, _ = succeeded

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output["status"] == "succeeded"
    assert execution.output["parts_seen"] == len(ITEMS)


def test_plan_gets_the_execution_input_and_its_step_name(succeeded) -> None:
    execution, _ = succeeded

    (plan,) = execution.calls_of("plan")
    assert plan.event == {**RUN, STEP_FIELD: "plan"}


def test_every_plan_item_reaches_exactly_one_part(succeeded) -> None:
    execution, function = succeeded
    parts = execution.calls_of("part")

    assert sorted(json.dumps(item, sort_keys=True) for item in function.items) == sorted(
        json.dumps(item, sort_keys=True) for item in ITEMS
    )
    assert sorted((call.event for call in parts), key=json.dumps) == sorted(
        ({STEP_FIELD: "part", "item": item} for item in ITEMS), key=json.dumps
    )


def test_reduce_gets_the_whole_run_with_the_plans_location(succeeded) -> None:
    execution, _ = succeeded

    (reduce,) = execution.calls_of("reduce")
    assert reduce.event == {
        STEP_FIELD: "reduce",
        "run": {
            **RUN,
            "plan": {
                "bucket": BUCKET,
                "key": PLAN_KEY,
                "parts": len(ITEMS),
                "seconds": 0.1,
                "refused": None,
            },
        },
    }


def test_a_successful_run_calls_no_fail_step(succeeded) -> None:
    execution, _ = succeeded

    assert execution.calls_of("fail") == []
    assert [call.event[STEP_FIELD] for call in execution.calls].count("plan") == 1


def test_the_plan_the_function_wrote_is_the_one_the_map_read(succeeded) -> None:
    execution, _ = succeeded

    assert json.loads(execution.objects[PLAN_KEY]) == ITEMS


def test_a_failing_plan_ends_in_the_fail_step_and_a_failed_execution(failed) -> None:
    assert failed.status == "FAILED"
    assert failed.error == "LinregRunFailed"
    assert failed.calls_of("part") == [] and failed.calls_of("reduce") == []


def test_a_refused_plan_ends_the_execution_successfully_with_its_outcome(template) -> None:
    execution = run_state_machine(template, FakeFunction(plan_refuses=True), RUN, bucket=BUCKET)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"status": "failed", "code": "bad_manifest", "failure_key": "f.json"}
    assert [call.event[STEP_FIELD] for call in execution.calls] == ["plan"]


def test_the_fail_step_gets_the_run_and_the_caught_error(failed) -> None:
    (fail,) = failed.calls_of("fail")
    run = fail.event["run"]

    assert fail.event[STEP_FIELD] == "fail"
    assert {key: run[key] for key in RUN} == RUN
    assert run["error"]["Error"] == "RuntimeError"
    assert "the plan could not be written" in run["error"]["Cause"]
    assert "plan" not in run


def test_the_harness_shares_the_callers_moto_s3(template, s3) -> None:
    # Inside the s3 fixture's mock: the caller sees what the steps wrote.
    execution = run_state_machine(template, FakeFunction(), RUN, bucket=BUCKET)

    assert execution.status == "SUCCEEDED"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=PLAN_KEY)["Body"].read()) == ITEMS


def test_s3_setup_runs_before_the_execution(template) -> None:
    def setup(s3) -> None:
        s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=b"a,b\n1,2\n")

    def steps(event: dict) -> dict:
        if event[STEP_FIELD] == "plan":
            s3 = boto3.client("s3", region_name="us-east-1")
            body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
            s3.put_object(Bucket=BUCKET, Key=PLAN_KEY, Body=json.dumps([{"size": len(body)}]))
            return {"bucket": BUCKET, "key": PLAN_KEY, "parts": 1, "seconds": 0.1, "refused": None}
        return {"part": 0, "item": event.get("item")}

    execution = run_state_machine(template, steps, RUN, s3_setup=setup, bucket=BUCKET)

    assert execution.status == "SUCCEEDED"
    assert [call.event["item"] for call in execution.calls_of("part")] == [{"size": 8}]


def test_the_resolved_definition_names_the_function_by_its_moto_arn(template) -> None:
    resolved = definition(template, BUCKET)

    assert resolved["States"]["Plan"]["Parameters"]["FunctionName"] == FUNCTION_ARN
    assert "Fn::" not in json.dumps(resolved) and '"Ref"' not in json.dumps(resolved)


def test_resolve_works_out_joins_selects_and_splits() -> None:
    names = {("Fn", "Arn"): "arn:aws:lambda:us-east-1:1:function:f", ("Sm", None): "a:b:c"}
    value = {
        "Fn::Join": [
            "/",
            [
                {"Fn::GetAtt": ["Fn", "Arn"]},
                {"Fn::Select": [1, {"Fn::Split": [":", {"Ref": "Sm"}]}]},
                {"Ref": "AWS::Partition"},
            ],
        ]
    }

    assert resolve(value, names) == "arn:aws:lambda:us-east-1:1:function:f/b/aws"
