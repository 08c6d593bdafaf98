"""The data bucket (uploads, models, failure records) and the bucket of its access logs.

Both are private, TLS only, encrypted at rest and retained by default (shared.py): they
hold what a user cannot get back. The function's grants on the data bucket are the
function's own (function.py); this module only makes the buckets and what every writer
must obey (no customer-provided keys).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from linreg_infra.rooms import Room
from linreg_infra.settings import Settings
from linreg_infra.shared import PRESENT, removal_policy

# What every bucket here has: no public access, TLS only, encrypted at rest with S3-managed
# keys (the only kind S3 can deliver access logs to).
PRIVATE_BUCKET: dict[str, Any] = {
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "encryption": s3.BucketEncryption.S3_MANAGED,
    # ACLs off: the bucket owns every object. Access logs still arrive, through the log
    # bucket's policy (see ACCESS_LOGS_BY_POLICY).
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
}
# With ACLs off, S3 can deliver access logs only by the log bucket's policy. CDK grants them
# by policy only under this feature flag and by the log-delivery ACL otherwise (and then
# refuses BUCKET_OWNER_ENFORCED), so the buckets set it themselves instead of relying on an
# app's cdk.json to have it.
ACCESS_LOGS_BY_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


class Storage(Room):
    """`bucket`, the data bucket, logging its requests to `access_log_bucket`."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        # Context for this construct's children only, so it must come before them.
        self.node.set_context(ACCESS_LOGS_BY_POLICY, True)
        self.settings = settings
        self.access_log_bucket = self._access_log_bucket()
        self.bucket = self._bucket()

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
            removal_policy=removal_policy(self.settings),
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
            removal_policy=removal_policy(settings),
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
