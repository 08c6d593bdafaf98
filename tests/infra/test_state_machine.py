"""The distributed run's state machine, read from the template: its definition (states,
payloads, item reader, retries, catches, timeout), its type, name and logs, and what its
role and the function may do with it. test_state_machine_run.py executes it in moto."""

from __future__ import annotations

import json

import pytest

from helpers import BUCKET
from linreg.contract import (
    DEFAULT_DISTRIBUTED_ABOVE_BYTES,
    DEFAULT_PART_BYTES,
    DISTRIBUTED_ABOVE_BYTES_ENV,
    DISTRIBUTED_FOLDER,
    PART_BYTES_ENV,
    PLAN_FILE,
    STATE_MACHINE_ARN_ENV,
    STEP_FIELD,
    TRANSITIONS_PER_DISTRIBUTED_RUN,
    TRANSITIONS_PER_PART,
)
from linreg.local.state_machine import FUNCTION_ARN, definition
from linreg_infra.distributed_run import MAX_STATE_MACHINE_NAME, state_machine_name
from template import (
    DATA_BUCKET,
    allowed,
    bucket_id,
    function_environment,
    function_id,
    function_log_group_id,
    function_statements,
    iam_matches,
    of_type,
    render,
    role_statements,
    state_machine_id,
    state_machine_role_id,
)

LAMBDA_TRANSIENT = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# The fixed name's ARN, as the function's environment and role build it.
SM_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":states:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":stateMachine:Linreg-Distributed",
        ],
    ]
}


@pytest.fixture(scope="module")
def states(template) -> dict:
    return definition(template, BUCKET)["States"]


@pytest.fixture(scope="module")
def parts(states) -> dict:
    return states["TrainParts"]


# --- the definition -----------------------------------------------------------------------


def test_runs_prepare_plan_parts_then_reduce(template, states) -> None:
    asl = definition(template, BUCKET)

    assert asl["StartAt"] == "PreparePlan"
    assert states["PreparePlan"]["Next"] == "Plan"
    assert states["Plan"]["Next"] == "Planned"
    assert states["Planned"]["Default"] == "TrainParts"
    assert states["TrainParts"]["Next"] == "Reduce"
    assert states["Reduce"]["End"] is True
    assert set(states) == {
        "PreparePlan",
        "Plan",
        "PlanFailed",
        "Planned",
        "RunRefused",
        "TrainParts",
        "Reduce",
        "RecordFailure",
        "RunFailed",
    }


def success_path(machine: dict) -> list[str]:
    """The states an execution of ``machine`` (a definition, or a Map's ItemProcessor)
    enters when every step succeeds and nothing is refused: from StartAt, each Next, a
    Choice's Default, until a state that ends it."""
    path, name = [], machine["StartAt"]
    while name is not None:
        assert name not in path, f"a loop through {name}"
        path.append(name)
        state = machine["States"][name]
        name = None if state.get("End") else state.get("Next", state.get("Default"))
    return path


def test_the_cost_estimates_transitions_are_the_definitions(template, states, parts) -> None:
    # Step Functions bills a transition per state entered: the parent's success path, and
    # per part one to start its child execution and one per state the child enters.
    parent = success_path(definition(template, BUCKET))
    child = success_path(parts["ItemProcessor"])

    assert parent == ["PreparePlan", "Plan", "Planned", "TrainParts", "Reduce"]
    assert len(parent) == TRANSITIONS_PER_DISTRIBUTED_RUN
    assert 1 + len(child) == TRANSITIONS_PER_PART
    assert len(parts["ItemProcessor"]["States"]) == len(child)


def test_every_lambda_step_invokes_the_training_function(states, parts) -> None:
    tasks = [states[name] for name in ("Plan", "Reduce", "RecordFailure")]
    tasks.append(parts["ItemProcessor"]["States"]["TrainPart"])

    for task in tasks:
        assert task["Resource"] == LAMBDA_INVOKE
        assert task["Parameters"]["FunctionName"] == FUNCTION_ARN


def test_plan_gets_the_execution_input_with_its_step_and_keeps_its_answer_at_plan(
    states,
) -> None:
    prepare, plan = states["PreparePlan"], states["Plan"]

    assert prepare["Type"] == "Pass"
    assert prepare["Parameters"] == {"step": {STEP_FIELD: "plan"}, "input.$": "$"}
    assert plan["Parameters"]["Payload.$"] == "States.JsonMerge($.input, $.step, false)"
    assert plan["ResultSelector"] == {
        "bucket.$": "$.Payload.bucket",
        "key.$": "$.Payload.key",
        "parts.$": "$.Payload.parts",
        "seconds.$": "$.Payload.seconds",
        "refused.$": "$.Payload.refused",
    }
    assert (plan["ResultPath"], plan["OutputPath"]) == ("$.input.plan", "$.input")


def test_a_refused_plan_ends_the_execution_successfully_with_its_outcome(states) -> None:
    (refused,) = states["Planned"]["Choices"]

    assert refused == {"Variable": "$.plan.refused", "IsNull": False, "Next": "RunRefused"}
    assert states["RunRefused"] == {"Type": "Succeed", "OutputPath": "$.plan.refused"}


def test_parts_are_a_distributed_map_of_standard_children(parts) -> None:
    assert parts["Type"] == "Map"
    assert parts["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert parts["ItemProcessor"]["StartAt"] == "TrainPart"
    assert parts["ResultPath"] is None


def test_parts_read_the_plan_the_plan_step_named(parts) -> None:
    assert parts["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.key"},
    }


def test_each_part_gets_its_step_and_its_item(parts) -> None:
    part = parts["ItemProcessor"]["States"]["TrainPart"]

    assert parts["ItemSelector"] == {STEP_FIELD: "part", "item.$": "$$.Map.Item.Value"}
    assert part["Parameters"]["Payload.$"] == "$"
    assert part["End"] is True


def test_a_part_answers_with_its_index_alone(parts) -> None:
    # The Map collects every child's output, within 256 KiB (docs/scale-out.md).
    part = parts["ItemProcessor"]["States"]["TrainPart"]

    assert part["OutputPath"] == "$.Payload.part"


def test_a_part_that_fails_past_its_retries_fails_the_map(parts) -> None:
    for field in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
        assert field not in parts


def test_max_parallel_parts_defaults_to_100_and_follows_the_context(
    parts, configured_template
) -> None:
    configured = definition(configured_template, BUCKET)["States"]["TrainParts"]

    assert parts["MaxConcurrency"] == 100
    assert configured["MaxConcurrency"] == 3


def test_every_lambda_step_retries_lambdas_transient_errors(states, parts) -> None:
    tasks = [states[name] for name in ("Plan", "Reduce", "RecordFailure")]
    tasks.append(parts["ItemProcessor"]["States"]["TrainPart"])

    for task in tasks:
        first = task["Retry"][0]
        assert first["ErrorEquals"] == LAMBDA_TRANSIENT
        assert first["MaxAttempts"] >= 3 and first["BackoffRate"] > 1
        assert first["JitterStrategy"] == "FULL" and first["MaxDelaySeconds"] <= 60


def test_every_lambda_step_that_raised_is_retried_with_backoff_and_jitter(states, parts) -> None:
    tasks = [states[name] for name in ("Plan", "Reduce", "RecordFailure")]
    tasks.append(parts["ItemProcessor"]["States"]["TrainPart"])

    for task in tasks:
        assert task["Retry"][1] == {
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": 5,
            "MaxAttempts": 4,
            "BackoffRate": 2,
            "MaxDelaySeconds": 60,
            "JitterStrategy": "FULL",
        }


def test_plan_parts_and_reduce_catch_everything_into_the_fail_step(states) -> None:
    def catch(name: str) -> dict:
        (only_catch,) = states[name]["Catch"]
        assert only_catch["ErrorEquals"] == ["States.ALL"]
        return only_catch

    assert catch("TrainParts") == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.error",
        "Next": "RecordFailure",
    }
    assert catch("Reduce")["ResultPath"] == "$.error"
    assert catch("Reduce")["Next"] == "RecordFailure"
    # The plan step's state is still wrapped: its error is unwrapped on the way.
    assert (catch("Plan")["ResultPath"], catch("Plan")["Next"]) == ("$.input.error", "PlanFailed")
    assert states["PlanFailed"] == {
        "Type": "Pass",
        "OutputPath": "$.input",
        "Next": "RecordFailure",
    }


def test_the_fail_step_records_the_run_then_the_execution_fails(states) -> None:
    record = states["RecordFailure"]

    assert record["Parameters"]["Payload"] == {STEP_FIELD: "fail", "run.$": "$"}
    assert record["Next"] == "RunFailed"
    assert states["RunFailed"]["Type"] == "Fail"
    assert "Catch" not in record


def test_reduce_gets_the_whole_run_and_answers_for_the_execution(states) -> None:
    reduce = states["Reduce"]

    assert reduce["Parameters"]["Payload"] == {STEP_FIELD: "reduce", "run.$": "$"}
    assert reduce["OutputPath"] == "$.Payload"


def test_timeout_defaults_to_an_hour_and_follows_the_context(template, configured_template) -> None:
    assert definition(template, BUCKET)["TimeoutSeconds"] == 3600
    assert definition(configured_template, BUCKET)["TimeoutSeconds"] == 7200


# --- the resource -------------------------------------------------------------------------


def test_state_machine_is_standard_named_after_the_stack(
    resources: dict, configured_resources: dict
) -> None:
    properties = resources[state_machine_id(resources)]["Properties"]
    configured = configured_resources[state_machine_id(configured_resources)]["Properties"]

    assert properties["StateMachineType"] == "STANDARD"
    assert properties["StateMachineName"] == "Linreg-Distributed"
    assert configured["StateMachineName"] == "LinregConfigured-Distributed"


def test_a_long_stack_name_still_gives_a_short_distinct_state_machine_name() -> None:
    long_a, long_b = "A" * 100 + "x", "A" * 100 + "y"

    assert len(state_machine_name(long_a)) == MAX_STATE_MACHINE_NAME
    assert state_machine_name(long_a) != state_machine_name(long_b)
    assert state_machine_name(long_a).endswith("-Distributed")
    assert state_machine_name("Linreg") == "Linreg-Distributed"


def test_state_machine_logs_all_events_to_its_own_log_group(resources: dict) -> None:
    properties = resources[state_machine_id(resources)]["Properties"]
    logging = properties["LoggingConfiguration"]
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]

    assert logging["Level"] == "ALL"
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert log_group != function_log_group_id(resources)
    assert resources[log_group]["Properties"]["RetentionInDays"] == 30


def test_state_machine_logs_under_vended_logs(resources: dict) -> None:
    # CloudWatch Logs' advice for logs a service delivers (bp-cwl): /aws/vendedlogs/.
    properties = resources[state_machine_id(resources)]["Properties"]
    (destination,) = properties["LoggingConfiguration"]["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]

    name = resources[log_group]["Properties"]["LogGroupName"]
    assert name == "/aws/vendedlogs/states/Linreg-Distributed"


# --- the state machine's role -------------------------------------------------------------


def sm_statements(resources: dict) -> list[dict]:
    return role_statements(resources, state_machine_role_id(resources))


def test_state_machine_role_invokes_only_the_training_function(resources: dict) -> None:
    function = function_id(resources)
    (invoke,) = allowed(sm_statements(resources), "lambda:InvokeFunction")

    assert invoke["Action"] == ["lambda:InvokeFunction"]
    assert invoke["Resource"] == [
        {"Fn::GetAtt": [function, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [function, "Arn"]}, ":*"]]},
    ]


@pytest.mark.parametrize("app", ["default", "configured"])
def test_state_machine_role_reads_only_plans(request, app: str) -> None:
    resources = request.getfixturevalue(
        {"default": "", "configured": "configured_"}[app] + "resources"
    )
    models = {"default": "models/", "configured": "results/models/"}[app]
    bucket = bucket_id(resources)
    s3 = [s for s in sm_statements(resources) if any(a.startswith("s3:") for a in s["Action"])]

    assert [(s["Action"], [render(r, bucket) for r in s["Resource"]]) for s in s3] == [
        (["s3:GetObject"], [f"{DATA_BUCKET}/{models}*/{DISTRIBUTED_FOLDER}{PLAN_FILE}"])
    ]


def test_state_machine_role_may_run_its_own_map_runs_only(resources: dict) -> None:
    machine = state_machine_id(resources)
    statements = [
        s for s in sm_statements(resources) if any(a.startswith("states:") for a in s["Action"])
    ]
    by_action = {action: s["Resource"] for s in statements for action in s["Action"]}
    own_name = {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine}]}]}

    assert by_action["states:StartExecution"] == [{"Ref": machine}]
    for action in ("states:DescribeExecution", "states:StopExecution"):
        (resource,) = by_action[action]
        parts = resource["Fn::Join"][1]
        assert parts[-3:] == [":execution:", own_name, ":*"], action
    (redrive,) = by_action["states:RedriveExecution"]
    assert redrive["Fn::Join"][1][-3:] == [":execution:", own_name, "/*:*"]
    assert set(by_action) == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "states:RedriveExecution",
    }


def test_state_machine_role_has_only_invoke_plans_map_runs_and_log_delivery(
    resources: dict,
) -> None:
    actions = {a for s in sm_statements(resources) for a in s["Action"]}
    wildcard = [s for s in sm_statements(resources) if "*" in s["Resource"]]

    assert {a.split(":")[0] for a in actions} == {"lambda", "s3", "states", "logs"}
    # Only the log delivery actions, which take no resource, have Resource "*".
    assert [a for s in wildcard for a in s["Action"] if not a.startswith("logs:")] == []
    assert not [s for s in sm_statements(resources) if s["Effect"] != "Allow"]


# --- the function and the state machine ---------------------------------------------------


def test_function_environment_names_the_state_machine_and_the_sizes(
    resources: dict, configured_resources: dict
) -> None:
    environment = function_environment(resources)
    configured = function_environment(configured_resources)

    assert environment[STATE_MACHINE_ARN_ENV] == SM_ARN
    assert environment[DISTRIBUTED_ABOVE_BYTES_ENV] == str(DEFAULT_DISTRIBUTED_ABOVE_BYTES)
    assert environment[PART_BYTES_ENV] == str(DEFAULT_PART_BYTES)
    assert configured[DISTRIBUTED_ABOVE_BYTES_ENV] == "134217728"
    assert configured[PART_BYTES_ENV] == "33554432"


def test_the_fixed_arn_is_the_state_machines_own(resources: dict) -> None:
    # The environment names it by its fixed name; the resource must carry that name.
    name = resources[state_machine_id(resources)]["Properties"]["StateMachineName"]

    assert SM_ARN["Fn::Join"][1][-1] == f":stateMachine:{name}"


def test_function_does_not_refer_to_the_state_machine_resource(resources: dict) -> None:
    # A Ref or GetAtt here would close the cycle function -> state machine -> function.
    machine = state_machine_id(resources)
    role = resources[function_id(resources)]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        r
        for r in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in r["Properties"]["Roles"]
    ]

    assert machine not in json.dumps(resources[function_id(resources)])
    assert machine not in json.dumps(policies)


def test_function_may_start_only_this_state_machine(resources: dict) -> None:
    statements = [
        s
        for s in function_statements(resources)
        if any(action.startswith("states:") for action in s["Action"])
    ]

    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["states:StartExecution"], [render(SM_ARN, bucket_id(resources))])
    ]


def test_function_may_write_plans_and_part_statistics(resources: dict) -> None:
    statements = function_statements(resources)
    key = f"{DATA_BUCKET}/models/big/0123abcd/{DISTRIBUTED_FOLDER}"
    writable = {r for s in allowed(statements, "s3:PutObject") for r in s["Resource"]}
    readable = {r for s in allowed(statements, "s3:GetObject") for r in s["Resource"]}

    for name in (PLAN_FILE, "part-00001.json"):
        assert any(iam_matches(key + name, pattern) for pattern in writable), name
        assert any(iam_matches(key + name, pattern) for pattern in readable), name
    assert not any(iam_matches(f"{DATA_BUCKET}/incoming/big.csv", p) for p in writable)


def test_an_execution_that_ends_unfinished_is_handed_to_the_function(resources: dict) -> None:
    (rule,) = of_type(resources, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]

    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    (target,) = rule["Properties"]["Targets"]
    (function_id,) = [
        key
        for key, function in of_type(resources, "AWS::Lambda::Function").items()
        if function["Properties"].get("PackageType") == "Image"
    ]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
