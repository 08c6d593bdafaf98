"""The training function: its image, size and environment, its own role and log group, and
its grants on the data bucket, written out action by action.

The function reads the CSV from the upload prefix, trains, and writes results under the
models prefix (or a record under the failures prefix); a CSV under the predict prefix it
scores into the predictions prefix. It is never allowed to write to either
upload prefix, so its own output can never trigger it again: the S3 -> Lambda -> S3 loop is
ruled out by policy, not just by the notification filter, and Lambda's recursive-loop
detection stops it as a last resort. Its writes of report.json, latest.json and failure
records are allowed only as conditional writes, so write-once holds by IAM, not only by
code. What triggers it is trigger.py's; the state machine it starts is distributed_run.py's.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.aws_ecr_assets import Platform
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from linreg.contract import (
    DISTRIBUTED_FOLDER,
    EVENT_DETAIL_TYPE,
    EVENT_FILE,
    EVENT_SOURCE,
    FAILURES_PREFIX_ENV,
    INCOMING_PREFIX_ENV,
    LATEST_FILE,
    METRICS_NAMESPACE,
    MODEL_PAGE_FILE,
    MODELS_PREFIX_ENV,
    PREDICT_PREFIX_ENV,
    PREDICTIONS_PREFIX_ENV,
    REPORT_FILE,
    RUN_FILES,
    SERVICE_NAME,
    STATE_MACHINE_ARN_ENV,
)
from linreg_infra.rooms import Room
from linreg_infra.settings import Settings
from linreg_infra.shared import PRESENT, event_bus_arn, log_group

# linreg:architecture -> the function's architecture and its image's platform.
ARCHITECTURES = {
    "x86_64": (lambda_.Architecture.X86_64, Platform.LINUX_AMD64),
    "arm64": (lambda_.Architecture.ARM_64, Platform.LINUX_ARM64),
}

# Lambda allots CPU in proportion to memory: one full vCPU per 1769 MB, six at most.
MB_PER_VCPU = 1769
MAX_LAMBDA_VCPUS = 6


def omp_threads_for(memory_mb: int) -> int:
    """OpenMP threads that fit the CPU Lambda gives a function of this memory size.

    MXNet runs one thread unless OMP_NUM_THREADS says otherwise. More threads than whole
    vCPUs only makes them compete for a throttled share, so round down, but keep one.
    """
    return max(1, min(MAX_LAMBDA_VCPUS, memory_mb // MB_PER_VCPU))


class TrainingFunction(Room):
    """`function`, with `role` and `log_group`.

    `lambda_src_dir` is the Docker build context (lambda_src/ of the repo). The function
    starts the distributed runs by `state_machine_arn`, built from the state machine's
    fixed name rather than from the resource, which refers to the function (a cycle).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.Bucket,
        lambda_src_dir: Path,
        state_machine_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.bucket = bucket
        self.state_machine_arn = state_machine_arn
        self.log_group = log_group(self, "FunctionLogs", settings)
        self.role = self._role()
        self.function = self._function(lambda_src_dir)
        self._grant_least_privilege()

    def _role(self) -> iam.Role:
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
            # Backstop to the grants below (none under the upload prefix): Lambda stops an
            # S3 -> Lambda -> S3 loop.
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # No async retry settings: nothing invokes it asynchronously. The trigger queue
            # redelivers a message whose run raised, and its dead-letter queue takes it
            # after trigger.MAX_RECEIVE_COUNT deliveries.
            environment={
                INCOMING_PREFIX_ENV: settings.incoming_prefix,
                MODELS_PREFIX_ENV: settings.models_prefix,
                FAILURES_PREFIX_ENV: settings.failures_prefix,
                PREDICT_PREFIX_ENV: settings.predict_prefix,
                PREDICTIONS_PREFIX_ENV: settings.predictions_prefix,
                **settings.hyperparameter_environment(),
                **settings.limits_environment(),
                # Uploads above the size go to the state machine, by this ARN (built from
                # its fixed name: naming the resource here would make a cycle).
                STATE_MACHINE_ARN_ENV: self.state_machine_arn,
                **settings.distributed_environment(),
                # The completion event's bus, the promotion rule, the price overrides.
                **settings.after_run_environment(),
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
        # CSVs to score, and their predictions (a redelivery reads their provenance).
        read += [settings.predict_prefix, settings.predictions_prefix]
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
        # no other. By the ARN built from its fixed name (distributed_run.state_machine_name).
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartDistributedRuns",
                actions=["states:StartExecution"],
                resources=[self.state_machine_arn],
            )
        )
        # The completion event: this stack's kind of event only, on the one bus. PutEvents is
        # authorized per entry, with events:source and events:detail-type
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html).
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PutRunFinishedEvents",
                actions=["events:PutEvents"],
                resources=[event_bus_arn(self, settings.event_bus_name)],
                conditions={
                    "StringEquals": {
                        "events:source": EVENT_SOURCE,
                        "events:detail-type": EVENT_DETAIL_TYPE,
                    }
                },
            )
        )
        bucket_id = cdk.Stack.of(self).resolve(bucket.node.default_child.logical_id)
        written = [pattern for _, patterns in self._writes().values() for pattern in patterns]
        wildcards = [f"{prefix}*" for prefix in read] + written
        NagSuppressions.add_resource_suppressions(
            self.role.node.find_child("DefaultPolicy"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Object ARNs under one key prefix each: the function reads "
                    "uploads and its own outputs and writes run files, reports, latest.json, "
                    "model pages, failure records, predictions and distributed runs' plans "
                    "and part statistics, whose "
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
        if absent; predictions (under their own prefix) as latest.json.

        IAM grants add up, so a write is conditional exactly when no unconditional pattern
        matches its key: none of the run-file patterns can match a key ending in report.json,
        latest.json or index.html, and nothing unconditional names the failures prefix. No
        Deny: the moto replay of this policy in the tests reads an unmatched Deny as a
        denial."""
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
        predictions = self.settings.predictions_prefix
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
            # The completion event's claim: the delivery that writes it first puts the event.
            # (Beside a failure record, <run_id>.event.json falls under the failures grant.)
            "ClaimRunEventOnlyIfAbsent": ("s3:if-none-match", [f"{models}*/{EVENT_FILE}"]),
            # Predictions: a compare-and-swap over an older upload's, or a first write.
            "WritePredictionsOnlyIfUnchanged": ("s3:if-match", [f"{predictions}*"]),
            "CreatePredictionsOnlyIfAbsent": ("s3:if-none-match", [f"{predictions}*"]),
            "WriteFailureRecordsOnlyIfAbsent": (
                "s3:if-none-match",
                [f"{self.settings.failures_prefix}*"],
            ),
        }
