"""What several parts of the stack build the same way: the removal policy of what holds
data, log groups with a retention, the keys of encrypted topics, and IAM's "the request
carries this header"."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from linreg_infra.settings import Settings

# IAM's condition for "the request carries this header": the key is not null.
PRESENT = "false"


def removal_policy(settings: Settings) -> cdk.RemovalPolicy:
    """For the two buckets and the log groups. Retained by default: deleting the stack must
    not delete anyone's data, models or logs. destroyOnDelete is for throwaway stacks. (The
    queues go with the stack: the uploads they name stay.)"""
    return cdk.RemovalPolicy.DESTROY if settings.destroy_on_delete else cdk.RemovalPolicy.RETAIN


def log_group(
    scope: Construct, construct_id: str, settings: Settings, *, name: str | None = None
) -> logs.LogGroup:
    """A log group kept for linreg:logRetentionDays, retained like the data."""
    group = logs.LogGroup(
        scope, construct_id, log_group_name=name, removal_policy=removal_policy(settings)
    )
    # CDK's RetentionDays enum only names the day counts; settings.py has already
    # checked this number against the same list CloudWatch accepts.
    group.node.default_child.retention_in_days = settings.log_retention_days
    return group


def event_bus_arn(scope: Construct, name: str) -> str:
    """The ARN of this account's event bus ``name`` in the stack's region: the default bus
    is ``arn:<partition>:events:<region>:<account>:event-bus/default``."""
    return cdk.Stack.of(scope).format_arn(
        service="events",
        resource="event-bus",
        resource_name=name,
        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
    )


def topic_key(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    sid: str,
    principal: iam.ServicePrincipal,
    source_arn: str,
) -> kms.Key:
    """The key of an SNS topic that an AWS service publishes to. The service can publish to
    an encrypted topic only with a customer managed key whose policy lets it use the key
    (the AWS managed SNS key does not), and here only when acting for this account's
    ``source_arn`` (the confused-deputy conditions). SNS keeps no messages, so nothing needs
    the key once the stack is gone: it is always deleted."""
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[principal],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        )
    )
    return key
