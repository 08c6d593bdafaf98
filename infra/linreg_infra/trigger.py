"""What starts a run: S3 notifies a queue of each upload, and the function consumes it.

S3 sends each upload's notification to an SQS queue, and the function consumes the queue
one message at a time with a bounded number of runs at once (the event source mapping's
maximum concurrency, which unlike reserved concurrency works in a new account). A
notification the function failed on three times moves to a dead-letter queue, the failure
queue, for a person to read.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from linreg.contract import TRIGGER_SUFFIXES, UPLOAD_SUFFIXES
from linreg_infra.rooms import Room
from linreg_infra.settings import Settings

# The construct id aws-cdk-lib gives its bucket-notification helper function.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

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


class Trigger(Room):
    """`trigger_queue`, between `bucket`'s uploads and `function`, and `failure_queue`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.Bucket,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.failure_queue = self._failure_queue()
        self.trigger_queue = self._trigger_queue()
        self._notify(bucket)
        self._consume(function)

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

    def _notify(self, bucket: s3.Bucket) -> None:
        # One notification per suffix (an S3 filter holds one prefix and one suffix); any
        # other upload would only be skipped, so it does not reach the queue at all.
        for suffix in TRIGGER_SUFFIXES:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.SqsDestination(self.trigger_queue),
                s3.NotificationKeyFilter(prefix=self.settings.incoming_prefix, suffix=suffix),
            )
        # Predictions on upload: CSVs (no manifests) under the predict prefix, same queue.
        for suffix in UPLOAD_SUFFIXES:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.SqsDestination(self.trigger_queue),
                s3.NotificationKeyFilter(prefix=self.settings.predict_prefix, suffix=suffix),
            )
        self._suppress_cdk_helper_findings()

    def _consume(self, function: lambda_.IFunction) -> None:
        # One upload per invocation, and at most maxConcurrency runs at once. A run that
        # raises leaves its message in the queue, to be delivered again.
        function.add_event_source(
            event_sources.SqsEventSource(
                self.trigger_queue,
                batch_size=1,
                max_concurrency=self.settings.max_concurrency,
            )
        )

    def _suppress_cdk_helper_findings(self) -> None:
        # add_event_notification brings in aws-cdk-lib's own small function that writes the
        # bucket's notification configuration during deployment, in the stack's scope. The
        # path is CDK's fixed id for it; if a CDK upgrade renames it, synthesis fails here
        # instead of silently.
        stack = cdk.Stack.of(self)
        NagSuppressions.add_resource_suppressions_by_path(
            stack,
            f"{stack.node.path}/{NOTIFICATIONS_HANDLER_ID}/Role/Resource",
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
