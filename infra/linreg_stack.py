"""The linreg stack: an S3 bucket whose `incoming/*.csv[.gz]` uploads trigger a training Lambda.

S3 sends each upload's notification to an SQS queue, and the function consumes the queue
one message at a time with a bounded number of runs at once (the event source mapping's
maximum concurrency, which unlike reserved concurrency works in a new account). The
function reads the CSV from the upload prefix, trains, and writes results under the models
prefix (or a record under the failures prefix). It is never allowed to write to the upload
prefix, so its own output can never trigger it again: the S3 -> Lambda -> S3 loop is ruled
out by policy, not just by the notification filter, and Lambda's recursive-loop detection
stops it as a last resort. Its writes of report.json, latest.json and failure records are
allowed only as conditional writes, so write-once holds by IAM, not only by code.

Around that core: server access logs in a second bucket, a log group with a retention, a
dead-letter queue for notifications the function failed on three times, CloudWatch alarms
(optionally mailed through SNS), and the cdk-nag suppressions, each next to what it excuses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.aws_ecr_assets import Platform
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from linreg.contract import (
    DISTRIBUTED_FOLDER,
    FAILURES_PREFIX_ENV,
    INCOMING_PREFIX_ENV,
    LATEST_FILE,
    METRICS_NAMESPACE,
    MODEL_PAGE_FILE,
    MODELS_PREFIX_ENV,
    PLAN_FILE,
    REPORT_FILE,
    RUN_FILES,
    SERVICE_NAME,
    STATE_MACHINE_ARN_ENV,
    STEP_FIELD,
    TRIGGER_SUFFIXES,
    Metric,
)
from settings import Settings

# linreg:architecture -> the function's architecture and its image's platform.
ARCHITECTURES = {
    "x86_64": (lambda_.Architecture.X86_64, Platform.LINUX_AMD64),
    "arm64": (lambda_.Architecture.ARM_64, Platform.LINUX_ARM64),
}

# The construct id aws-cdk-lib gives its bucket-notification helper function.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

# Lambda allots CPU in proportion to memory: one full vCPU per 1769 MB, six at most.
MB_PER_VCPU = 1769
MAX_LAMBDA_VCPUS = 6

# SQS's longest retention: an upload the function gave up on stays visible for two weeks.
# A message keeps its first enqueue time when it moves to the dead-letter queue, so this
# must be longer than the trigger queue's retention, or a late failure would expire at once.
FAILURE_QUEUE_RETENTION = cdk.Duration.days(14)
# SQS's default: a backlog that waits longer than this (the age alarm fires after an hour)
# is dropped; re-upload the file.
TRIGGER_QUEUE_RETENTION = cdk.Duration.days(4)
# Lambda's advice for an SQS event source: a visibility timeout of at least six times the
# function timeout, so a message is not delivered again while a throttled batch waits.
VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT = 6
# Deliveries of one notification before it moves to the dead-letter queue: a transient S3
# or Lambda error gets two more tries.
MAX_RECEIVE_COUNT = 3

# The trigger queue's backlog alarm: its oldest message has waited this long.
BACKLOG_AGE_ALARM = cdk.Duration.hours(1)
# The duration alarm: a run used this share of the timeout.
DURATION_ALARM_SHARE_OF_TIMEOUT = 0.8

# IAM's condition for "the request carries this header": the key is not null.
PRESENT = "false"

# The distributed run's state machine (see _state_machine). Its name is fixed, derived from
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


def omp_threads_for(memory_mb: int) -> int:
    """OpenMP threads that fit the CPU Lambda gives a function of this memory size.

    MXNet runs one thread unless OMP_NUM_THREADS says otherwise. More threads than whole
    vCPUs only makes them compete for a throttled share, so round down, but keep one.
    """
    return max(1, min(MAX_LAMBDA_VCPUS, memory_mb // MB_PER_VCPU))


# What every bucket here has: no public access, TLS only, encrypted at rest with S3-managed
# keys (the only kind S3 can deliver access logs to).
PRIVATE_BUCKET = {
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "encryption": s3.BucketEncryption.S3_MANAGED,
    # ACLs off: the bucket owns every object. Access logs still arrive, through the log
    # bucket's policy (the @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy flag).
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
}


class LinregStack(cdk.Stack):
    """Buckets, training function, trigger queue, failure queue, logs, alarms and permissions.

    `settings` holds every configurable value (see settings.py); `lambda_src_dir` is the
    Docker build context (lambda_src/ of the repo). Other keyword arguments go to
    `cdk.Stack` (env, description, ...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        lambda_src_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        # For the two buckets and the log group. Retained by default: deleting the stack
        # must not delete anyone's data, models or logs. destroyOnDelete is for throwaway
        # stacks. (The queues go with the stack: the uploads they name stay.)
        self.removal_policy = (
            cdk.RemovalPolicy.DESTROY if settings.destroy_on_delete else cdk.RemovalPolicy.RETAIN
        )

        self.access_log_bucket = self._access_log_bucket()
        self.bucket = self._bucket()
        self.failure_queue = self._failure_queue()
        self.trigger_queue = self._trigger_queue()
        self.log_group = self._log_group()
        self.role = self._function_role()
        self.state_machine_name = state_machine_name(self.stack_name)
        # Built from the fixed name, not from the resource: see STATE_MACHINE_SUFFIX.
        self.state_machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.function = self._function(lambda_src_dir)
        self._grant_least_privilege()
        self._trigger()
        self.state_machine = self._state_machine()
        self._record_executions_that_end_unfinished()
        self.alarm_topic = self._alarm_topic() if settings.alarm_email else None
        self.alarms = self._alarms()
        self._outputs()

    # --- storage --------------------------------------------------------------------------

    def _access_log_bucket(self) -> s3.Bucket:
        # S3 delivers access logs only to a bucket with S3-managed keys (not KMS). This
        # bucket has no access logs of its own: logging it into itself would log every log
        # delivery. cdk-nag (AwsSolutions-S1) accepts a bucket that is another bucket's
        # log target, so it needs no suppression.
        return s3.Bucket(
            self,
            "AccessLogBucket",
            **PRIVATE_BUCKET,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=cdk.Duration.days(self.settings.access_log_expiration_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=self.removal_policy,
            auto_delete_objects=self.settings.destroy_on_delete,
        )

    def _bucket(self) -> s3.Bucket:
        settings = self.settings
        bucket = s3.Bucket(
            self,
            "Bucket",
            **PRIVATE_BUCKET,
            # Versioning keeps overwritten uploads and models; the rule below keeps it
            # from growing forever.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(
                        settings.noncurrent_version_days
                    ),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                    expired_object_delete_marker=True,
                )
            ],
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            removal_policy=self.removal_policy,
            auto_delete_objects=settings.destroy_on_delete,
        )
        # SSE-C: an object encrypted with the uploader's own key cannot be read without that
        # key, by the function or anyone else, and the key never reaches this account. Refuse
        # such writes (PutObject, CopyObject and multipart uploads all send the header).
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyCustomerProvidedKeys",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={
                    "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": PRESENT}
                },
            )
        )
        return bucket

    def _failure_queue(self) -> sqs.Queue:
        # The trigger queue's dead-letter queue: a person reads it, nothing consumes it.
        # (cdk-nag's AwsSolutions-SQS3 accepts a queue that is another's dead-letter queue.)
        return sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_QUEUE_RETENTION,
        )

    def _trigger_queue(self) -> sqs.Queue:
        # Between S3 and the function: S3 sends every upload's notification here, and the
        # event source mapping starts at most linreg:maxConcurrency runs at once.
        return sqs.Queue(
            self,
            "TriggerQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=TRIGGER_QUEUE_RETENTION,
            visibility_timeout=cdk.Duration.seconds(
                VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT * self.settings.timeout_seconds
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.failure_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )

    def _log_group(
        self, construct_id: str = "FunctionLogs", *, name: str | None = None
    ) -> logs.LogGroup:
        log_group = logs.LogGroup(
            self, construct_id, log_group_name=name, removal_policy=self.removal_policy
        )
        # CDK's RetentionDays enum only names the day counts; settings.py has already
        # checked this number against the same list CloudWatch accepts.
        log_group.node.default_child.retention_in_days = self.settings.log_retention_days
        return log_group

    # --- the function ---------------------------------------------------------------------

    def _function_role(self) -> iam.Role:
        # Our own role instead of Lambda's default one, which carries the managed
        # AWSLambdaBasicExecutionRole: that policy may write to every log group.
        role = iam.Role(
            self,
            "TrainFunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="linreg training function: its log group and its bucket prefixes",
        )
        self.log_group.grant_write(role)
        return role

    def _function(self, lambda_src_dir: Path) -> lambda_.DockerImageFunction:
        settings = self.settings
        architecture, platform = ARCHITECTURES[settings.architecture]
        code = lambda_.DockerImageCode.from_image_asset(
            str(lambda_src_dir),
            file="Dockerfile",
            # The image's platform follows the function's, whatever machine builds it.
            platform=platform,
        )
        return lambda_.DockerImageFunction(
            self,
            "TrainFunction",
            code=code,
            role=self.role,
            architecture=architecture,
            memory_size=settings.memory_mb,
            timeout=cdk.Duration.seconds(settings.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency,
            # Backstop to the IAM rule above: Lambda stops an S3 -> Lambda -> S3 loop.
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # No async retry settings: nothing invokes it asynchronously. The trigger queue
            # redelivers a message whose run raised, and its dead-letter queue takes it
            # after MAX_RECEIVE_COUNT deliveries.
            environment={
                INCOMING_PREFIX_ENV: settings.incoming_prefix,
                MODELS_PREFIX_ENV: settings.models_prefix,
                FAILURES_PREFIX_ENV: settings.failures_prefix,
                **settings.hyperparameter_environment(),
                **settings.limits_environment(),
                # Uploads above the size go to the state machine, by this ARN (built from
                # its fixed name: naming the resource here would make a cycle).
                STATE_MACHINE_ARN_ENV: self.state_machine_arn,
                **settings.distributed_environment(),
                "OMP_NUM_THREADS": str(omp_threads_for(settings.memory_mb)),
                # numpy's BLAS only multiplies small matrices here; its idle helper threads
                # would spin on the function's CPU share while the main thread trains.
                "OPENBLAS_NUM_THREADS": "1",
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )

    def _grant_least_privilege(self) -> None:
        # Written out action by action instead of bucket.grant_*: those grant wildcards
        # such as s3:GetObject* and s3:DeleteObject* on the whole bucket.
        settings = self.settings
        bucket = self.bucket
        # Besides the upload, the function reads its own outputs: latest.json before moving
        # it, and a run's report or failure record to recognize a duplicate delivery.
        read = [settings.incoming_prefix, settings.models_prefix, settings.failures_prefix]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadUploadsAndOutputs",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in read],
            )
        )
        for statement in self._write_statements():
            self.function.add_to_role_policy(statement)
        # S3 answers a read of a missing key with 404 only to callers who may list the
        # bucket, 403 otherwise; the handler relies on 404 (first latest.json, deleted
        # uploads). It stays unconditional: a GET carries no s3:prefix, so a prefix
        # condition here would never match and missing keys would read as 403 again.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ListBucketFor404s",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
            )
        )
        # Uploads above linreg:distributedAboveBytes: start this stack's state machine, and
        # no other. By the ARN built from its fixed name (see STATE_MACHINE_SUFFIX).
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartDistributedRuns",
                actions=["states:StartExecution"],
                resources=[self.state_machine_arn],
            )
        )
        bucket_id = self.resolve(self.bucket.node.default_child.logical_id)
        written = [pattern for _, patterns in self._writes().values() for pattern in patterns]
        wildcards = [f"{prefix}*" for prefix in read] + written
        NagSuppressions.add_resource_suppressions(
            self.role.node.find_child("DefaultPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Object ARNs under one key prefix each: the function reads "
                    "uploads and its own outputs and writes run files, reports, latest.json, "
                    "model pages, failure records and distributed runs' plans and part "
                    "statistics, whose "
                    "keys it only learns from each event. No "
                    "action wildcard, no other prefix.",
                    applies_to=sorted(
                        {f"Resource::<{bucket_id}.Arn>/{pattern}" for pattern in wildcards}
                    ),
                )
            ],
            apply_to_children=True,
        )

    def _write_statements(self) -> list[iam.PolicyStatement]:
        """s3:PutObject, Allow only: run files anywhere under the models prefix; report.json
        only if absent (If-None-Match); latest.json and the model's page (index.html) only as
        a compare-and-swap (If-Match) or a first write (If-None-Match); failure records only
        if absent.

        IAM grants add up, so a write is conditional exactly when no unconditional pattern
        matches its key: none of the run-file patterns can match a key ending in report.json,
        latest.json or index.html, and nothing unconditional names the failures prefix. No Deny: the
        moto replay of this policy in the tests reads an unmatched Deny as a denial."""
        return [
            iam.PolicyStatement(
                sid=sid,
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(pattern) for pattern in patterns],
                conditions={"Null": {required: PRESENT}} if required else None,
            )
            for sid, (required, patterns) in self._writes().items()
        ]

    def _writes(self) -> dict[str, tuple[str | None, list[str]]]:
        """Statement id -> (the condition key the request must carry, or None; the key
        patterns it may write)."""
        models = self.settings.models_prefix
        return {
            "WriteRunFiles": (None, [f"{models}*/{name}" for name in RUN_FILES]),
            # A distributed run's plan and its parts' statistics (read back through the
            # models prefix's read grant).
            "WriteDistributedFiles": (None, [f"{models}*/{DISTRIBUTED_FOLDER}*"]),
            "WriteReportOnlyIfAbsent": ("s3:if-none-match", [f"{models}*/{REPORT_FILE}"]),
            "MoveLatestOnlyIfUnchanged": ("s3:if-match", [f"{models}*/{LATEST_FILE}"]),
            "CreateLatestOnlyIfAbsent": ("s3:if-none-match", [f"{models}*/{LATEST_FILE}"]),
            # The model's page, rewritten after each run: the same compare-and-swap.
            "WritePageOnlyIfUnchanged": ("s3:if-match", [f"{models}*/{MODEL_PAGE_FILE}"]),
            "CreatePageOnlyIfAbsent": ("s3:if-none-match", [f"{models}*/{MODEL_PAGE_FILE}"]),
            "WriteFailureRecordsOnlyIfAbsent": (
                "s3:if-none-match",
                [f"{self.settings.failures_prefix}*"],
            ),
        }

    def _trigger(self) -> None:
        # One notification per suffix (an S3 filter holds one prefix and one suffix); any
        # other upload would only be skipped, so it does not reach the queue at all.
        for suffix in TRIGGER_SUFFIXES:
            self.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.SqsDestination(self.trigger_queue),
                s3.NotificationKeyFilter(prefix=self.settings.incoming_prefix, suffix=suffix),
            )
        # One upload per invocation, and at most maxConcurrency runs at once. A run that
        # raises leaves its message in the queue, to be delivered again.
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.trigger_queue,
                batch_size=1,
                max_concurrency=self.settings.max_concurrency,
            )
        )
        self._suppress_cdk_helper_findings()

    # --- scale-out: the distributed run ---------------------------------------------------

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
        self.state_machine_log_group = self._log_group(
            "StateMachineLogs", name=f"/aws/vendedlogs/states/{self.state_machine_name}"
        )
        state_machine = sfn.StateMachine(
            self,
            "DistributedRun",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(prepare.next(plan).next(planned)),
            timeout=cdk.Duration.seconds(self.settings.distributed_timeout_seconds),
            logs=sfn.LogOptions(
                destination=self.state_machine_log_group,
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
        function_id = self.resolve(self.function.node.default_child.logical_id)
        bucket_id = self.resolve(self.bucket.node.default_child.logical_id)
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
                            {"Ref": self.resolve(state_machine.node.default_child.logical_id)},
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

    def _suppress_cdk_helper_findings(self) -> None:
        # add_event_notification brings in aws-cdk-lib's own small function that writes the
        # bucket's notification configuration during deployment. The path is CDK's fixed
        # id for it; if a CDK upgrade renames it, synthesis fails here instead of silently.
        NagSuppressions.add_resource_suppressions_by_path(
            self,
            f"{self.node.path}/{NOTIFICATIONS_HANDLER_ID}/Role/Resource",
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="CDK's bucket-notification helper logs through the AWS managed "
                    "AWSLambdaBasicExecutionRole; its role cannot be configured. Its only "
                    "other permission is s3:PutBucketNotification on this stack's bucket.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole"
                    ],
                )
            ],
        )

    def _record_executions_that_end_unfinished(self) -> None:
        # An execution that times out or is stopped never reaches RecordFailure (a Catch
        # cannot see the state machine's own timeout): EventBridge hands its end to the
        # function, which writes the run's failure record (once, like any other).
        events.Rule(
            self,
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
                    self.function, dead_letter_queue=self.failure_queue, retry_attempts=4
                )
            ],
        )

    # --- operations -----------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        # CloudWatch can publish to an encrypted topic only with a customer managed key
        # whose policy lets it use the key; the AWS managed SNS key does not. SNS keeps no
        # messages, so nothing needs the key once the stack is gone: it is always deleted.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="linreg alarm topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # Only for this account's alarms (the confused-deputy conditions): CloudWatch acting
        # for an alarm in another account cannot use this key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToUseTheKey",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        # The topic policy that enforce_ssl creates replaces SNS's default one, so allow
        # this account's alarms to publish explicitly.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        topic.add_subscription(subscriptions.EmailSubscription(self.settings.alarm_email))
        return topic

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = cdk.Duration.minutes(5)
        runs_failed = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=Metric.RUNS_FAILED,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Sum",
            period=five_minutes,
        )
        timeout_ms = self.settings.timeout_seconds * 1000
        return [
            self._alarm(
                "FunctionErrors",
                self.function.metric_errors(period=five_minutes, statistic="Sum"),
                "The training function raised (S3 or other unexpected errors); the trigger "
                "queue delivers the upload again.",
            ),
            self._alarm(
                "FunctionThrottles",
                self.function.metric_throttles(period=five_minutes, statistic="Sum"),
                "Lambda throttled the function: the account's concurrency is used up "
                "elsewhere, or the reserved concurrency is too low.",
            ),
            self._alarm(
                "FunctionNearTimeout",
                self.function.metric_duration(period=five_minutes, statistic="Maximum"),
                f"A run took {DURATION_ALARM_SHARE_OF_TIMEOUT:.0%} or more of the function's "
                f"{self.settings.timeout_seconds} s timeout: larger uploads will time out.",
                threshold=DURATION_ALARM_SHARE_OF_TIMEOUT * timeout_ms,
            ),
            self._alarm(
                "FailureQueueNotEmpty",
                self.failure_queue.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                f"An upload failed {MAX_RECEIVE_COUNT} deliveries: see the failure queue.",
            ),
            self._alarm(
                "TriggerQueueBacklog",
                self.trigger_queue.metric_approximate_age_of_oldest_message(
                    period=five_minutes, statistic="Maximum"
                ),
                f"An upload has waited {BACKLOG_AGE_ALARM.to_human_string()} or more in the "
                "trigger queue: runs are stuck or too slow for the uploads.",
                threshold=BACKLOG_AGE_ALARM.to_seconds(),
            ),
            self._alarm(
                "RunsFailed",
                runs_failed,
                "The function recorded a failed run (bad input) under the failures prefix.",
            ),
            self._alarm(
                "DistributedRunsFailed",
                self.state_machine.metric_failed(period=five_minutes, statistic="Sum"),
                "A distributed run failed: a step failed after its retries (its failure "
                "record is under the failures prefix), or recording the failure failed too.",
            ),
            self._alarm(
                "DistributedRunsTimedOut",
                self.state_machine.metric_timed_out(period=five_minutes, statistic="Sum"),
                f"A distributed run took longer than {self.settings.distributed_timeout_seconds}"
                " s (linreg:distributedTimeoutSeconds) and was stopped, without a record.",
            ),
            self._alarm(
                "DistributedRunsAborted",
                self.state_machine.metric_aborted(period=five_minutes, statistic="Sum"),
                "A distributed run was stopped by hand (StopExecution), without a record.",
            ),
        ]

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        why: str,
        *,
        threshold: float = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{construct_id}Alarm",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means no invocations, which is not a problem.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=why,
        )
        if self.alarm_topic is not None:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        return alarm

    def _outputs(self) -> None:
        bucket_name = self.bucket.bucket_name
        incoming = self.settings.incoming_prefix
        outputs = {
            "BucketName": (bucket_name, "The data bucket."),
            "UploadPrefix": (
                f"s3://{bucket_name}/{incoming}",
                "Upload .csv or .csv.gz files here to start a training run.",
            ),
            "ModelsPrefix": (
                f"s3://{bucket_name}/{self.settings.models_prefix}",
                "Runs and latest.json appear here.",
            ),
            "ExampleUploadCommand": (
                f"aws s3 cp data/iris.csv s3://{bucket_name}/{incoming}iris.csv",
                "Trains on the sample data.",
            ),
            "FunctionName": (self.function.function_name, "The training function."),
            "LogGroupName": (self.log_group.log_group_name, "The function's logs."),
            "TriggerQueueUrl": (
                self.trigger_queue.queue_url,
                "Upload notifications waiting for a run (S3 sends them here).",
            ),
            "FailureQueueUrl": (
                self.failure_queue.queue_url,
                f"Upload notifications the function failed on {MAX_RECEIVE_COUNT} times.",
            ),
            "StateMachineArn": (
                self.state_machine.state_machine_arn,
                "The distributed runs of uploads above linreg:distributedAboveBytes.",
            ),
        }
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
