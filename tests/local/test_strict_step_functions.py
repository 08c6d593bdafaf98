"""The local runner holds to what AWS Step Functions enforces and moto does not
(linreg.local.strict_step_functions): one test per rule, each on the smallest definition that
shows it. Each of them fails with its rule taken out of strict_step_functions.RULES, because
moto alone answers the other way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from linreg.local.state_machine import FUNCTION_ARN, serving_definition

BUCKET = "linreg-rules"
KIB = 1024
PASS_END = {"Type": "Pass", "End": True}


def lambda_task(**fields: Any) -> dict:
    """A Task state that invokes the function with its input and keeps the payload."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FUNCTION_ARN, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **fields,
    }


def distributed_map(child: dict, **fields: Any) -> dict:
    """A Distributed Map over ``$.items`` whose children run the one state ``child``."""
    return {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Child",
            "States": {"Child": {**child, "End": True}},
        },
        # moto runs a thread per concurrent child: hundreds at once crawl.
        "MaxConcurrency": 10,
        **fields,
    }


def machine(**states: dict) -> dict:
    """A definition of ``states``, started at the first one."""
    return {"StartAt": next(iter(states)), "States": states}


def execute(
    asl: dict,
    input: dict,  # noqa: A002 - the execution's input
    steps: Callable[[dict], Any] = lambda event: event,
) -> tuple[dict, list]:
    """Run ``asl`` once in the strict runner: describe_execution's answer, and the calls."""
    with serving_definition(asl, steps, bucket=BUCKET, name="rules") as served:
        arn = served.sfn.start_execution(stateMachineArn=served.arn, input=json.dumps(input))
        return served.wait(arn["executionArn"]), list(served.calls)


def padded(size: int) -> str:
    return "x" * size


# --- 256 KiB on state data ----------------------------------------------------------------


def test_a_map_whose_children_answers_add_up_past_256_kib_fails_despite_result_path_null():
    child = {"Type": "Pass", "Result": {"pad": padded(KIB)}}
    asl = machine(Fan=distributed_map(child, ResultPath=None, End=True))

    described, _ = execute(asl, {"items": list(range(300))})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"


@pytest.mark.slow
def test_a_map_result_past_256_kib_fails_before_its_result_selector_shrinks_it():
    child = {"Type": "Pass", "Result": {"pad": padded(KIB)}}
    selector = {"count.$": "States.ArrayLength($)"}
    asl = machine(Fan=distributed_map(child, ResultSelector=selector, End=True))

    described, _ = execute(asl, {"items": list(range(300))})

    assert described["error"] == "States.DataLimitExceeded"


def test_a_map_whose_children_answers_fit_succeeds():
    child = {"Type": "Pass", "Result": {"pad": padded(KIB)}}
    asl = machine(Fan=distributed_map(child, ResultPath=None, End=True))

    described, _ = execute(asl, {"items": list(range(200))})

    assert described["status"] == "SUCCEEDED", described.get("cause")


def test_a_child_execution_given_more_than_256_kib_fails_the_map():
    # ItemSelector's "$" is the Map's input: each child gets the 150 KiB pad twice and
    # reads one of them (InputPath), so only what the child is given is past the limit.
    selector = {"a.$": "$.pad", "b.$": "$.pad"}
    child = {"Type": "Pass", "InputPath": "$.a"}
    asl = machine(Fan=distributed_map(child, ItemSelector=selector, End=True))

    described, _ = execute(asl, {"items": [0], "pad": padded(150 * KIB)})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"


@pytest.mark.slow
def test_a_map_of_300_children_answering_with_the_whole_lambda_response_fails():
    # Each answer is ~1 kB on AWS (its HTTP metadata), whatever the function returns.
    child = {**lambda_task(), "OutputPath": "$"}
    asl = machine(Fan=distributed_map(child, ResultPath=None, End=True))

    described, _ = execute(asl, {"items": list(range(300))}, lambda event: {"part": event})

    assert described["error"] == "States.DataLimitExceeded"


def test_a_lambda_answer_carries_step_functions_http_metadata():
    asl = machine(Work={**lambda_task(), "OutputPath": "$", "End": True})

    described, _ = execute(asl, {"a": 1})

    answer = json.loads(described["output"])
    assert answer["Payload"] == {"a": 1}
    assert answer["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert len(json.dumps(answer)) > 900


def test_start_execution_refuses_an_input_over_256_kib():
    with (
        serving_definition(
            machine(Done=PASS_END), lambda e: e, bucket=BUCKET, name="rules"
        ) as served,
        pytest.raises(ClientError) as refused,
    ):
        served.sfn.start_execution(
            stateMachineArn=served.arn, input=json.dumps({"pad": padded(257 * KIB)})
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"


# --- States.ALL is not all ----------------------------------------------------------------
@pytest.mark.slow
def test_a_catch_on_states_all_does_not_catch_data_limit_exceeded():
    child = {"Type": "Pass", "Result": {"pad": padded(KIB)}}
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    asl = machine(
        Fan=distributed_map(child, ResultPath=None, Catch=catch, End=True), Caught=PASS_END
    )

    described, _ = execute(asl, {"items": list(range(300))})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"


def test_a_retry_on_states_all_does_not_retry_data_limit_exceeded():
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    asl = machine(Work=lambda_task(Retry=retry, End=True))

    described, calls = execute(asl, {}, lambda event: {"pad": padded(300 * KIB)})

    assert described["error"] == "States.DataLimitExceeded"
    assert len(calls) == 1


def test_a_catch_on_states_all_does_not_catch_states_runtime():
    # A Parameters path that names nothing in the input is a States.Runtime error.
    broken = lambda_task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True)
    broken["Parameters"] = {"FunctionName": FUNCTION_ARN, "Payload.$": "$.missing"}
    asl = machine(Work=broken, Caught=PASS_END)

    described, calls = execute(asl, {})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert calls == []


def test_a_catch_on_states_all_still_catches_a_function_error():
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    asl = machine(Work=lambda_task(Catch=catch, End=True), Caught=PASS_END)

    def steps(event: dict) -> dict:
        raise RuntimeError("boom")

    described, _ = execute(asl, {}, steps)

    assert described["status"] == "SUCCEEDED"


# --- a failed child fails the Map ---------------------------------------------------------


def fails_on_one(event: dict) -> dict:
    if event["item"] == 1:
        raise RuntimeError("this part failed")
    return event


CHILD_TASK = {
    **lambda_task(),
    "Parameters": {"FunctionName": FUNCTION_ARN, "Payload": {"item.$": "$"}},
}


def test_a_failed_child_fails_the_map_with_the_tolerated_failure_error():
    asl = machine(Fan=distributed_map(CHILD_TASK, End=True))

    described, _ = execute(asl, {"items": [0, 1, 2]}, fails_on_one)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"


@pytest.mark.slow
def test_a_failed_child_within_the_tolerated_count_lets_the_map_succeed():
    asl = machine(Fan=distributed_map(CHILD_TASK, ToleratedFailureCount=1, End=True))

    described, _ = execute(asl, {"items": [0, 1, 2]}, fails_on_one)

    assert described["status"] == "SUCCEEDED", described.get("cause")


def test_a_failed_map_is_caught_by_a_catch_on_states_all():
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    asl = machine(Fan=distributed_map(CHILD_TASK, Catch=catch, End=True), Caught=PASS_END)

    described, _ = execute(asl, {"items": [0, 1, 2]}, fails_on_one)

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "States.ExceedToleratedFailureThreshold"


# --- StartExecution's idempotency ---------------------------------------------------------


@pytest.fixture
def running():
    """A state machine whose one execution, "run-1", runs until ``release`` is set."""
    release = threading.Event()

    def steps(event: dict) -> dict:
        release.wait(30)
        return event

    asl = machine(Work=lambda_task(End=True))
    with serving_definition(asl, steps, bucket=BUCKET, name="rules") as served:
        first = served.sfn.start_execution(
            stateMachineArn=served.arn, name="run-1", input='{"a": 1}'
        )
        yield served, first["executionArn"], release
        release.set()


def test_starting_a_running_execution_again_returns_it(running):
    served, arn, _ = running

    again = served.sfn.start_execution(stateMachineArn=served.arn, name="run-1", input='{"a": 1}')

    assert again["executionArn"] == arn


def test_starting_a_running_execution_with_other_input_is_refused(running):
    served, _, _ = running

    with pytest.raises(ClientError) as refused:
        served.sfn.start_execution(stateMachineArn=served.arn, name="run-1", input='{"a": 2}')

    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_starting_a_finished_execution_again_is_refused(running):
    served, arn, release = running
    release.set()
    served.wait(arn)

    with pytest.raises(ClientError) as refused:
        served.sfn.start_execution(stateMachineArn=served.arn, name="run-1", input='{"a": 1}')

    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


# --- retries ------------------------------------------------------------------------------


def test_retries_wait_the_backoff_schedule_and_the_scale_shortens_only_the_sleep():
    retry = [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 20, "BackoffRate": 2, "MaxAttempts": 2}
    ]
    asl = machine(Work=lambda_task(Retry=retry, End=True))
    attempts = []

    def steps(event: dict) -> dict:
        attempts.append(event)
        if len(attempts) < 3:
            raise RuntimeError("try again")
        return event

    with serving_definition(
        asl, steps, bucket=BUCKET, name="rules", retry_wait_scale=0.001
    ) as served:
        arn = served.sfn.start_execution(stateMachineArn=served.arn, input="{}")["executionArn"]
        described = served.wait(arn, timeout_seconds=10)

    assert described["status"] == "SUCCEEDED"
    assert served.retry_waits == [20, 40]
