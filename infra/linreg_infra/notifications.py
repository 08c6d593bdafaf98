"""Mail about finished runs (linreg:notifyEmail): the function's completion events on the
bus (linreg:eventBusName), matched by two EventBridge rules, one for a run that succeeded
and one for any other end, each sending a one-line message to an SNS topic the address
subscribes to.

The function puts one "Run Finished" event per run (source "linreg") on the bus; the rules
match only this stack's bucket, so two stacks on one bus each mail their own runs. The
topic is encrypted with its own KMS key, which EventBridge may use only for this account's
rules, and its policy lets only the two rules publish, over TLS.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from linreg.contract import EVENT_DETAIL_TYPE, EVENT_SOURCE, Status
from linreg_infra.rooms import Room
from linreg_infra.settings import Settings
from linreg_infra.settings_parsers import DEFAULT_EVENT_BUS
from linreg_infra.shared import topic_key

EVENTS_PRINCIPAL = "events.amazonaws.com"


def detail(field: str) -> str:
    """A placeholder for the event detail's ``field`` in a rule's input template."""
    return events.EventField.from_path(f"$.detail.{field}")


def succeeded_message() -> str:
    """One line for a run that succeeded: its numbers, whether latest.json moved, where
    its report is."""
    return (
        f"linreg run {detail('run_id')} of model {detail('model')}: {detail('status')}; "
        f"test MSE {detail('test_mse')} (baseline {detail('baseline_test_mse')}); "
        f"latest moved: {detail('latest_moved')}; cost about ${detail('cost.usd')}; "
        f"report: s3://{detail('bucket')}/{detail('report_key')}"
    )


def not_succeeded_message() -> str:
    """One line for a run that failed, diverged or timed out: its error code and where its
    failure record is."""
    return (
        f"linreg run {detail('run_id')} of model {detail('model')}: {detail('status')} "
        f"({detail('error_code')}); failure record: s3://{detail('bucket')}/"
        f"{detail('failure_key')}; upload: s3://{detail('bucket')}/{detail('input_key')}"
    )


@jsii.implements(events.IRuleTarget)
class TopicMessage:
    """A rule target that publishes ``message`` to ``topic`` and grants nothing: the
    topic's policy (RunNotifications) names the rules that may publish. (CDK's SnsTopic
    target would add a statement for every EventBridge rule of any account.)"""

    def __init__(self, topic: sns.ITopic, message: str) -> None:
        self.topic = topic
        self.message = message

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.topic.topic_arn, input=events.RuleTargetInput.from_text(self.message)
        )


class RunNotifications(Room):
    """`topic` (with its `key`) that linreg:notifyEmail subscribes to, and the `rules` on
    the event bus that feed it ``bucket``'s completion events."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.bucket = bucket
        self.key = self._key()
        self.topic = sns.Topic(
            self,
            "RunTopic",
            display_name="linreg runs",
            master_key=self.key,
            enforce_ssl=True,
        )
        assert settings.notify_email is not None
        self.topic.add_subscription(subscriptions.EmailSubscription(settings.notify_email))
        self.rules = self._rules()
        # The topic policy that enforce_ssl creates replaces SNS's default one: only these
        # rules may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksRunRules",
                principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": [r.rule_arn for r in self.rules]}},
            )
        )

    def _key(self) -> kms.Key:
        # Only for this account's rules. Not the two rules' own ARNs: the key would then
        # refer to the rules, which refer to the topic, which refers to the key.
        return topic_key(
            self,
            "RunTopicKey",
            description="linreg run notification topic",
            sid="AllowThisAccountsRulesToUseTheKey",
            principal=iam.ServicePrincipal(EVENTS_PRINCIPAL),
            source_arn=cdk.Stack.of(self).format_arn(
                service="events",
                resource="rule",
                resource_name="*",
                arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
            ),
        )

    def _rules(self) -> list[events.Rule]:
        name = self.settings.event_bus_name
        bus = (
            None
            if name == DEFAULT_EVENT_BUS
            else events.EventBus.from_event_bus_name(self, "EventBus", name)
        )
        outcomes = {
            "NotifyRunSucceeded": (
                "A linreg run of this stack's bucket succeeded: mail its numbers",
                [Status.SUCCEEDED.value],
                succeeded_message(),
            ),
            "NotifyRunNotSucceeded": (
                "A linreg run of this stack's bucket failed, diverged or timed out: mail it",
                [{"anything-but": Status.SUCCEEDED.value}],
                not_succeeded_message(),
            ),
        }
        return [
            events.Rule(
                self,
                construct_id,
                description=description,
                event_bus=bus,
                event_pattern=events.EventPattern(
                    source=[EVENT_SOURCE],
                    detail_type=[EVENT_DETAIL_TYPE],
                    detail={"bucket": [self.bucket.bucket_name], "status": status},
                ),
                targets=[TopicMessage(self.topic, message)],
            )
            for construct_id, (description, status, message) in outcomes.items()
        ]
