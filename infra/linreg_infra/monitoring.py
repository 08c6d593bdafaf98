"""What tells an operator that runs fail: CloudWatch alarms on the function, the queues and
the distributed runs, mailed through an SNS topic when linreg:alarmEmail is set.

An alarm fires on the first bad period and treats no data as fine: no invocations is not
a problem. Without an address the alarms still show in the console, with no action.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from linreg.contract import METRICS_NAMESPACE, SERVICE_NAME, Metric
from linreg_infra.rooms import Room
from linreg_infra.settings import Settings
from linreg_infra.shared import topic_key
from linreg_infra.trigger import MAX_RECEIVE_COUNT

# The trigger queue's backlog alarm: its oldest message has waited this long.
BACKLOG_AGE_ALARM = cdk.Duration.hours(1)
# The duration alarm: a run used this share of the timeout.
DURATION_ALARM_SHARE_OF_TIMEOUT = 0.8


class Monitoring(Room):
    """`alarms` on ``function``, the two queues and ``state_machine``, and the
    `alarm_topic` they notify (None without linreg:alarmEmail)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        function: lambda_.Function,
        trigger_queue: sqs.Queue,
        failure_queue: sqs.Queue,
        state_machine: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.function = function
        self.trigger_queue = trigger_queue
        self.failure_queue = failure_queue
        self.state_machine = state_machine
        self.alarm_topic = self._alarm_topic() if settings.alarm_email else None
        self.alarms = self._alarms()

    def _alarm_topic(self) -> sns.Topic:
        stack = cdk.Stack.of(self)
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # CloudWatch acting for an alarm in another account cannot use this key.
        key = topic_key(
            self,
            "AlarmTopicKey",
            description="linreg alarm topic",
            sid="AllowThisAccountsAlarmsToUseTheKey",
            principal=cloudwatch_principal,
            source_arn=stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
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
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        topic.add_subscription(subscriptions.EmailSubscription(self.settings.alarm_email))
        return topic

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = cdk.Duration.minutes(5)
        runs_failed, events_not_sent = (
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SERVICE_NAME},
                statistic="Sum",
                period=five_minutes,
            )
            for name in (Metric.RUNS_FAILED, Metric.EVENTS_NOT_SENT)
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
            self._alarm(
                "EventsNotSent",
                events_not_sent,
                f"EventBridge did not take a run's completion event (bus "
                f"{self.settings.event_bus_name!r}, linreg:eventBusName): no rule or mail "
                "hears of that run. The run itself is published.",
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
