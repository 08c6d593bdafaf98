"""The linreg stack: an S3 bucket whose `incoming/*.csv` uploads trigger a training Lambda.

The function reads the CSV from `incoming/`, trains, and writes results under `models/`
(or a report under `failures/`). It is never allowed to write to `incoming/`, so its own
output can never trigger it again: the S3 -> Lambda -> S3 loop is ruled out by policy,
not just by the notification filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

INCOMING_PREFIX = "incoming/"
MODELS_PREFIX = "models/"
FAILURES_PREFIX = "failures/"
UPLOAD_SUFFIX = ".csv"

# Lambda allots CPU in proportion to memory: one full vCPU per 1769 MB, six at most.
MB_PER_VCPU = 1769
MAX_LAMBDA_VCPUS = 6


def omp_threads_for(memory_mb: int) -> int:
    """OpenMP threads that fit the CPU Lambda gives a function of this memory size.

    MXNet runs one thread unless OMP_NUM_THREADS says otherwise. More threads than whole
    vCPUs only makes them compete for a throttled share, so round down, but keep one.
    """
    return max(1, min(MAX_LAMBDA_VCPUS, memory_mb // MB_PER_VCPU))


class LinregStack(cdk.Stack):
    """Bucket, training function, upload notification and the function's permissions.

    Options: `lambda_src_dir` is the Docker build context (lambda_src/ of the repo);
    `timeout` defaults to five minutes; `removal_policy` applies to the bucket.
    Other keyword arguments go to `cdk.Stack` (env, description, ...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lambda_src_dir: Path,
        memory_mb: int = 1024,
        timeout: cdk.Duration | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.bucket = self._bucket(removal_policy)
        self.function = self._function(
            lambda_src_dir, memory_mb, timeout or cdk.Duration.minutes(5)
        )
        self._grant_least_privilege()
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(self.function),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX, suffix=UPLOAD_SUFFIX),
        )
        self._outputs()

    def _bucket(self, removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
        # Retained by default: deleting the stack must not delete anyone's data or models.
        # A bucket that is not retained still has to be emptied by hand before deletion.
        return s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            removal_policy=removal_policy,
        )

    def _function(
        self, lambda_src_dir: Path, memory_mb: int, timeout: cdk.Duration
    ) -> lambda_.DockerImageFunction:
        code = lambda_.DockerImageCode.from_image_asset(
            str(lambda_src_dir),
            file="Dockerfile",
            # mxnet publishes x86_64 wheels only; pin the build to match the function.
            platform=Platform.LINUX_AMD64,
        )
        return lambda_.DockerImageFunction(
            self,
            "TrainFunction",
            code=code,
            architecture=lambda_.Architecture.X86_64,
            memory_size=memory_mb,
            timeout=timeout,
            environment={
                "INCOMING_PREFIX": INCOMING_PREFIX,
                "MODELS_PREFIX": MODELS_PREFIX,
                "FAILURES_PREFIX": FAILURES_PREFIX,
                "OMP_NUM_THREADS": str(omp_threads_for(memory_mb)),
                "POWERTOOLS_SERVICE_NAME": "linreg",
            },
        )

    def _grant_least_privilege(self) -> None:
        # Written out action by action instead of bucket.grant_*: those grant wildcards
        # such as s3:GetObject* and s3:DeleteObject* on the whole bucket.
        bucket = self.bucket
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadUploadsAndModels",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[
                    bucket.arn_for_objects(f"{INCOMING_PREFIX}*"),
                    bucket.arn_for_objects(f"{MODELS_PREFIX}*"),
                ],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="WriteModelsAndFailures",
                actions=["s3:PutObject"],
                resources=[
                    bucket.arn_for_objects(f"{MODELS_PREFIX}*"),
                    bucket.arn_for_objects(f"{FAILURES_PREFIX}*"),
                ],
            )
        )
        # S3 answers a read of a missing key with 404 only to callers who may list the
        # bucket, 403 otherwise; the handler relies on 404 (first latest.json, deleted
        # uploads). A GET carries no s3:prefix, so a prefix condition here would not count.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ListBucketFor404s",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
            )
        )

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "FunctionName", value=self.function.function_name)
        cdk.CfnOutput(
            self,
            "UploadPrefix",
            value=f"s3://{self.bucket.bucket_name}/{INCOMING_PREFIX}",
            description=f"Upload {UPLOAD_SUFFIX} files here to start a training run.",
        )
