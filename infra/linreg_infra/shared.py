"""What several parts of the stack build the same way: the removal policy of what holds
data, log groups with a retention, and IAM's "the request carries this header"."""

from __future__ import annotations

import aws_cdk as cdk
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
