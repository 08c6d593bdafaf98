"""The distributed run: a Step Functions state machine that trains on parts of one large
upload at once (a Distributed Map) and reduces them into one model, with what belongs to
it: its log group, its cdk-nag suppressions, and the EventBridge rule that records the
failure of an execution that ends unfinished.

Uploads above linreg:distributedAboveBytes go here instead of a single run: the function
starts an execution by the state machine's ARN, which is built from its fixed name
(`state_machine_name`), and the same function serves every step (docs/scale-out.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from linreg.contract import DISTRIBUTED_FOLDER, PLAN_FILE, STEP_FIELD
from linreg_infra.rooms import Room
from linreg_infra.settings import Settings
from linreg_infra.shared import log_group

# The distributed run's state machine (see DistributedRun). Its name is fixed, derived from
# the stack's name, so that the function's environment and role can name its ARN without
# referring to the resource (which refers to the function: a cycle). Step Functions allows
# 80 characters.
STATE_MACHINE_SUFFIX = "-Distributed"
MAX_STATE_MACHINE_NAME = 80
# The state names of the definition: what the console, the logs and the tests show.
PREPARE_PLAN_STATE = "PreparePlan"
PLAN_STATE = "Plan"
PLAN_FAILED_STATE = "PlanFailed"
PLANNED_STATE = "Planned"
REFUSED_STATE = "RunRefused"
PARTS_STATE = "TrainParts"
PART_STATE = "TrainPart"
REDUCE_STATE = "Reduce"
RECORD_FAILURE_STATE = "RecordFailure"
FAILED_STATE = "RunFailed"
# Step names of the Lambda payload's STEP_FIELD (the library dispatches on them).
PLAN_STEP, PART_STEP, REDUCE_STEP, FAIL_STEP = "plan", "part", "reduce", "fail"
# Lambda's own transient errors, throttling included: every Lambda step retries them
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# Full jitter, so that a thousand throttled children do not all come back at once.
LAMBDA_RETRY = {
    "interval": cdk.Duration.seconds(2),
    "max_attempts": 6,
    "backoff_rate": 2.0,
    "max_delay": cdk.Duration.seconds(60),
    "jitter_strategy": sfn.JitterType.FULL,
}
# A step raises only for errors a retry may cure (S3's SlowDown, a dropped connection):
# input problems are its answer, not an error. Every step is safe to repeat, so each gets
# what a single run gets from its trigger queue's redeliveries, and a little more.
STEP_RETRY = {
    "interval": cdk.Duration.seconds(5),
    "max_attempts": 4,
    "backoff_rate": 2.0,
    "max_delay": cdk.Duration.seconds(60),
    "jitter_strategy": sfn.JitterType.FULL,
}
# Where the state machine keeps the plan step's answer, and a caught error.
PLAN_FIELD = "plan"
ERROR_FIELD = "error"
PLAN_PATH = f"$.{PLAN_FIELD}"
ERROR_PATH = f"$.{ERROR_FIELD}"


def state_machine_name(stack_name: str) -> str:
    """The state machine's fixed name: the stack's name and a suffix; a stack name too long
    for Step Functions' 80 characters is cut and told apart by a hash of the whole."""
    name = f"{stack_name}{STATE_MACHINE_SUFFIX}"
    if len(name) <= MAX_STATE_MACHINE_NAME:
        return name
    digest = hashlib.sha256(stack_name.encode()).hexdigest()[:8]
    keep = MAX_STATE_MACHINE_NAME - len(STATE_MACHINE_SUFFIX) - len(digest) - 1
    return f"{stack_name[:keep]}-{digest}{STATE_MACHINE_SUFFIX}"


def state_machine_arn(scope: Construct, name: str) -> str:
    """The ARN of this stack's state machine named ``name`` (see STATE_MACHINE_SUFFIX)."""
    return cdk.Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=name,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


class DistributedRun(Room):
    """`state_machine` (named ``name``, whose ARN is ``arn``), its `log_group`, and the
    rule that hands an execution that ended unfinished to ``function``, which writes the
    run's failure record (``failure_queue`` takes the events it could not)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        name: str,
        arn: str,
        function: lambda_.Function,
        bucket: s3.Bucket,
        failure_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.state_machine_name = name
        self.state_machine_arn = arn
        self.function = function
        self.bucket = bucket
        self.state_machine = self._state_machine()
        self._record_executions_that_end_unfinished(failure_queue)

    def _state_machine(self) -> sfn.StateMachine:
        """PreparePlan -> Plan -> Planned: a refused plan ends at RunRefused (its failure
        record is written), else TrainParts (a Distributed Map over the plan's items, one
        TrainPart child execution each) -> Reduce; an error that outlasts its retries goes to
        RecordFailure (the function writes the run's failure record), then RunFailed.

        The same function serves every step, told apart by the payload's STEP_FIELD. The
        execution input is the function's own (bucket, key, version_id, run_id, name and
        more) and passes through untouched; the plan's location is added at $.plan, a caught
        error at $.error. Every state's input and output stays within Step Functions' 256
        KiB, the Map's collected child results included, which it checks before ResultPath
        drops them: a child answers with its part's index alone (docs/scale-out.md has the
        arithmetic behind linreg:maxParts).
        """
        function = self.function

        def invoke(state: str, payload: sfn.TaskInput, **kwargs: Any) -> tasks.LambdaInvoke:
            task = tasks.LambdaInvoke(
                self,
                state,
                lambda_function=function,
                payload=payload,
                # Retried below, with TooManyRequestsException too.
                retry_on_service_exceptions=False,
                **kwargs,
            )
            task.add_retry(errors=list(LAMBDA_TRANSIENT_ERRORS), **LAMBDA_RETRY)
            return task.add_retry(errors=[sfn.Errors.TASKS_FAILED], **STEP_RETRY)

        def with_run(step: str) -> sfn.TaskInput:
            # The whole state (execution input, $.plan, $.error) as "run".
            return sfn.TaskInput.from_object({STEP_FIELD: step, "run": sfn.JsonPath.object_at("$")})

        # The plan step's payload is the execution input with STEP_FIELD added. JSONPath
        # cannot add a field to an object except by merging in another object, and an
        # object literal in an intrinsic needs escaped braces, which moto reads differently
        # from AWS; so a Pass state sets the two objects side by side first (no intrinsic
        # literal), and the plan step unwraps the state again (OutputPath).
        prepare = sfn.Pass(
            self,
            PREPARE_PLAN_STATE,
            parameters={"step": {STEP_FIELD: PLAN_STEP}, "input": sfn.JsonPath.object_at("$")},
        )
        plan = invoke(
            PLAN_STATE,
            sfn.TaskInput.from_json_path_at("States.JsonMerge($.input, $.step, false)"),
            result_selector={
                "bucket.$": "$.Payload.bucket",
                "key.$": "$.Payload.key",
                "parts.$": "$.Payload.parts",
                # How long planning took: the reduce adds it to the run's cost.
                "seconds.$": "$.Payload.seconds",
                "refused.$": "$.Payload.refused",
            },
            result_path=f"$.input.{PLAN_FIELD}",
            output_path="$.input",
        )
        # The plan step records a run it refuses (its input's fault): the execution then
        # succeeds with that outcome, and no alarm fires for a user's mistake.
        refused = sfn.Succeed(self, REFUSED_STATE, output_path=f"{PLAN_PATH}.refused")
        part = invoke(
            PART_STATE, sfn.TaskInput.from_json_path_at("$"), output_path="$.Payload.part"
        )
        parts = sfn.DistributedMap(
            self,
            PARTS_STATE,
            item_reader=sfn.S3JsonItemReader(
                bucket_name_path=sfn.JsonPath.string_at(f"{PLAN_PATH}.bucket"),
                key=sfn.JsonPath.string_at(f"{PLAN_PATH}.key"),
            ),
            item_selector={
                STEP_FIELD: PART_STEP,
                "item": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            },
            max_concurrency=self.settings.max_parallel_parts,
            map_execution_type=sfn.StateMachineType.STANDARD,
            # The parts' statistics are in S3; the state keeps nothing of theirs. A child
            # that fails past its retries fails the Map (no tolerated failures).
            result_path=sfn.JsonPath.DISCARD,
        ).item_processor(part)
        reduce = invoke(REDUCE_STATE, with_run(REDUCE_STEP), output_path="$.Payload")
        record_failure = invoke(RECORD_FAILURE_STATE, with_run(FAIL_STEP)).next(
            sfn.Fail(
                self,
                FAILED_STATE,
                error="LinregRunFailed",
                cause="A step failed; the run's failure record is under the failures prefix.",
            )
        )
        # A caught error joins the run's state at $.error; the plan step's state is still
        # wrapped when it fails, so its error is unwrapped on the way.
        plan.add_catch(
            sfn.Pass(self, PLAN_FAILED_STATE, output_path="$.input").next(record_failure),
            errors=[sfn.Errors.ALL],
            result_path=f"$.input.{ERROR_FIELD}",
        )
        for step in (parts, reduce):
            step.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
        planned = (
            sfn.Choice(self, PLANNED_STATE)
            .when(sfn.Condition.is_not_null(f"{PLAN_PATH}.refused"), refused)
            .otherwise(parts.next(reduce))
        )

        # Every execution's events, the parts' included (a few per part), with their data:
        # keys and counts, nothing secret.
        # Under /aws/vendedlogs/, as CloudWatch Logs advises for services that deliver logs
        # (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html): its
        # resource policy for log delivery stays within size for any number of them.
        self.log_group = log_group(
            self,
            "StateMachineLogs",
            self.settings,
            name=f"/aws/vendedlogs/states/{self.state_machine_name}",
        )
        state_machine = sfn.StateMachine(
            self,
            "DistributedRun",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(prepare.next(plan).next(planned)),
            timeout=cdk.Duration.seconds(self.settings.distributed_timeout_seconds),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            tracing_enabled=False,
        )
        # Read only the plans: the item reader's one S3 call (CDK grants none for a bucket
        # named by a JSONPath).
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadPlans",
                actions=["s3:GetObject"],
                resources=[
                    self.bucket.arn_for_objects(
                        f"{self.settings.models_prefix}*/{DISTRIBUTED_FOLDER}{PLAN_FILE}"
                    )
                ],
            )
        )
        self._suppress_state_machine_findings(state_machine)
        return state_machine

    def _suppress_state_machine_findings(self, state_machine: sfn.StateMachine) -> None:
        NagSuppressions.add_resource_suppressions(
            state_machine,
            [
                NagPackSuppression(
                    id="AwsSolutions-SF2",
                    reason="No X-Ray: every execution logs all its events to its log group, "
                    "and the function logs every step; traces would cost per execution and "
                    "nothing here reads them.",
                ),
            ],
        )
        stack = cdk.Stack.of(self)
        function_id = stack.resolve(self.function.node.default_child.logical_id)
        bucket_id = stack.resolve(self.bucket.node.default_child.logical_id)
        plans = f"{self.settings.models_prefix}*/{DISTRIBUTED_FOLDER}{PLAN_FILE}"
        NagSuppressions.add_resource_suppressions(
            state_machine.role.node.find_child("DefaultPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Log delivery to CloudWatch Logs (logs:*LogDelivery and friends) "
                    "supports no resource-level permissions, so its Resource is '*'; "
                    "lambda:InvokeFunction names this stack's one function and its "
                    "versions ('<arn>:*', as CDK grants it); s3:GetObject only the plans "
                    "under the models prefix, whose run folder the state machine learns "
                    "from the plan step.",
                    applies_to=[
                        "Resource::*",
                        f"Resource::<{function_id}.Arn>:*",
                        f"Resource::<{bucket_id}.Arn>/{plans}",
                    ],
                )
            ],
            apply_to_children=True,
        )
        # CDK names the executions by the state machine's name, cut from its ARN.
        own_name = json.dumps(
            {
                "Fn::Select": [
                    6,
                    {
                        "Fn::Split": [
                            ":",
                            {"Ref": stack.resolve(state_machine.node.default_child.logical_id)},
                        ]
                    },
                ]
            },
            separators=(",", ":"),
        )
        executions = (
            f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"execution:{own_name}"
        )
        NagSuppressions.add_resource_suppressions(
            state_machine.node.find_child("DistributedMapPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Distributed Map's documented permissions: DescribeExecution, "
                    "StopExecution and RedriveExecution on this state machine's own "
                    "executions (and its map runs), which it names only at run time.",
                    applies_to=[f"{executions}:*", f"{executions}/*:*"],
                )
            ],
            apply_to_children=True,
        )

    def _record_executions_that_end_unfinished(self, failure_queue: sqs.Queue) -> None:
        # An execution that times out or is stopped never reaches RecordFailure (a Catch
        # cannot see the state machine's own timeout): EventBridge hands its end to the
        # function, which writes the run's failure record (once, like any other).
        # In the stack's scope, not this room's: CDK names the failure queue's policy
        # statement for the rule after the rule's unique id, which a room would change and
        # the logical-id override cannot reach (rooms.py).
        events.Rule(
            cdk.Stack.of(self),
            "DistributedRunEnded",
            description="A distributed run ended without finishing: record its failure",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["TIMED_OUT", "ABORTED", "FAILED"],
                    "stateMachineArn": [self.state_machine_arn],
                },
            ),
            targets=[
                events_targets.LambdaFunction(
                    self.function, dead_letter_queue=failure_queue, retry_attempts=4
                )
            ],
        )
