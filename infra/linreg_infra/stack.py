"""The linreg stack: an S3 bucket whose `incoming/*.csv[.gz]` uploads trigger a training Lambda.

The stack composes its parts and passes each what it needs from the others:

- storage.py: the data bucket and the bucket of its access logs;
- function.py: the training function, its role, its log group and its grants;
- trigger.py: the queue S3 notifies of each upload and the function consumes, and the
  failure queue (its dead-letter queue);
- distributed_run.py: the state machine that trains on parts of a large upload, and the
  rule that records the failure of a run that ends unfinished;
- monitoring.py: CloudWatch alarms, optionally mailed through SNS;
- notifications.py: with linreg:notifyEmail, a mail for each finished run;
- tagging.py: the cost-allocation tags (linreg:tags) on every resource;

and the outputs. Each part is a `Room` (rooms.py): grouped for the code, invisible to
CloudFormation, so every resource keeps the logical id it had when the stack was flat.

The order is what the parts need: the function names the state machine by the ARN of its
fixed name (the state machine refers to the function, so the resource cannot be named:
a cycle), the trigger needs the bucket and the function, the distributed run the function
and the failure queue, and monitoring all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from linreg_infra.distributed_run import DistributedRun, state_machine_arn, state_machine_name
from linreg_infra.function import TrainingFunction
from linreg_infra.monitoring import Monitoring
from linreg_infra.notifications import RunNotifications
from linreg_infra.rooms import RoomStack
from linreg_infra.settings import Settings
from linreg_infra.storage import Storage
from linreg_infra.tagging import tag_every_resource
from linreg_infra.trigger import MAX_RECEIVE_COUNT, Trigger


class LinregStack(RoomStack):
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
        self.storage = Storage(self, "Storage", settings=settings)
        self.state_machine_name = state_machine_name(self.stack_name)
        # Built from the fixed name, not from the resource: see above.
        self.state_machine_arn = state_machine_arn(self, self.state_machine_name)
        self.training = TrainingFunction(
            self,
            "Function",
            settings=settings,
            bucket=self.storage.bucket,
            lambda_src_dir=lambda_src_dir,
            state_machine_arn=self.state_machine_arn,
        )
        self.trigger = Trigger(
            self,
            "Trigger",
            settings=settings,
            bucket=self.storage.bucket,
            function=self.training.function,
        )
        self.distributed_run = DistributedRun(
            self,
            "DistributedRuns",
            settings=settings,
            name=self.state_machine_name,
            arn=self.state_machine_arn,
            function=self.training.function,
            bucket=self.storage.bucket,
            failure_queue=self.trigger.failure_queue,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            function=self.training.function,
            trigger_queue=self.trigger.trigger_queue,
            failure_queue=self.trigger.failure_queue,
            state_machine=self.distributed_run.state_machine,
        )
        self.notifications = (
            RunNotifications(self, "Notifications", settings=settings, bucket=self.storage.bucket)
            if settings.notify_email
            else None
        )
        self._outputs()
        tag_every_resource(self, settings.resource_tags())

    def _outputs(self) -> None:
        bucket_name = self.storage.bucket.bucket_name
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
            "FunctionName": (self.training.function.function_name, "The training function."),
            "LogGroupName": (self.training.log_group.log_group_name, "The function's logs."),
            "TriggerQueueUrl": (
                self.trigger.trigger_queue.queue_url,
                "Upload notifications waiting for a run (S3 sends them here).",
            ),
            "FailureQueueUrl": (
                self.trigger.failure_queue.queue_url,
                f"Upload notifications the function failed on {MAX_RECEIVE_COUNT} times.",
            ),
            "StateMachineArn": (
                self.distributed_run.state_machine.state_machine_arn,
                "The distributed runs of uploads above linreg:distributedAboveBytes.",
            ),
        }
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
