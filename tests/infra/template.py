"""Queries on a synthesized CloudFormation template, shared by the tests in this folder.

Most take the template's "Resources" (logical id -> resource) and return one thing a test
reads. Policy resources come back rendered as text, with the data bucket's ARN written as
``DATA_BUCKET``, so that a grant reads as the key pattern it covers: "BUCKET/models/*".
"""

from __future__ import annotations

import fnmatch
import json

from aws_cdk.assertions import Match

# How the data bucket's ARN reads in rendered policy resources.
DATA_BUCKET = "BUCKET"


def only(found: dict) -> tuple[str, dict]:
    """The single (logical id, resource) of ``found``; fails unless there is exactly one."""
    assert len(found) == 1, f"expected exactly one, found {sorted(found)}"
    return next(iter(found.items()))


def as_list(value: object) -> list:
    """A policy field that may be one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def of_type(resources: dict, resource_type: str) -> dict:
    """The resources of one CloudFormation type, by logical id."""
    return {k: r for k, r in resources.items() if r["Type"] == resource_type}


def bucket_id(resources: dict) -> str:
    """The data bucket: the one that sends its access logs to the other."""
    buckets = of_type(resources, "AWS::S3::Bucket")
    return only({k: r for k, r in buckets.items() if "LoggingConfiguration" in r["Properties"]})[0]


def access_log_bucket_id(resources: dict) -> str:
    """The bucket the data bucket's access logs go to."""
    logging = resources[bucket_id(resources)]["Properties"]["LoggingConfiguration"]
    return logging["DestinationBucketName"]["Ref"]


def function_id(resources: dict) -> str:
    """The training function: the only container-image function (CDK's helpers are zips)."""
    functions = {
        k: r
        for k, r in of_type(resources, "AWS::Lambda::Function").items()
        if r["Properties"].get("PackageType") == "Image"
    }
    return only(functions)[0]


def trigger_queue_id(resources: dict) -> str:
    """The queue S3 notifies and the function consumes: the one with a dead-letter queue."""
    queues = of_type(resources, "AWS::SQS::Queue")
    return only({k: r for k, r in queues.items() if "RedrivePolicy" in r["Properties"]})[0]


def failure_queue_id(resources: dict) -> str:
    """The trigger queue's dead-letter queue."""
    redrive = resources[trigger_queue_id(resources)]["Properties"]["RedrivePolicy"]
    return redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]


def function_role_id(resources: dict) -> str:
    """The training function's execution role."""
    return resources[function_id(resources)]["Properties"]["Role"]["Fn::GetAtt"][0]


def function_log_group_id(resources: dict) -> str:
    """The training function's log group."""
    return resources[function_id(resources)]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]


def state_machine_id(resources: dict) -> str:
    """The distributed run's state machine: the only one."""
    return only(of_type(resources, "AWS::StepFunctions::StateMachine"))[0]


def state_machine_role_id(resources: dict) -> str:
    """The state machine's role."""
    return resources[state_machine_id(resources)]["Properties"]["RoleArn"]["Fn::GetAtt"][0]


def role_statements(resources: dict, role: str) -> list[dict]:
    """Every statement of the IAM policies attached to ``role`` (a logical id), with Action
    and Resource as lists; resources left as the template has them."""
    statements = [
        statement
        for resource in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in resource["Properties"].get("Roles", [])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    statements += [
        statement
        for policy in resources[role]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    return [
        {**s, "Action": as_list(s["Action"]), "Resource": as_list(s["Resource"])}
        for s in statements
    ]


def function_environment(resources: dict) -> dict:
    """The training function's environment variables."""
    return resources[function_id(resources)]["Properties"]["Environment"]["Variables"]


def render(value: object, bucket: str) -> str:
    """A policy resource as text, with the ARN of ``bucket`` (a logical id) as DATA_BUCKET."""
    if isinstance(value, str):
        return value
    if value == {"Fn::GetAtt": [bucket, "Arn"]}:
        return DATA_BUCKET
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part, bucket) for part in parts)
    return json.dumps(value)  # anything else cannot name the bucket's objects


def all_statements(resources: dict) -> list[dict]:
    """Every statement of every IAM policy, inline role policy and resource policy."""
    documents = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] in (
            "AWS::IAM::Policy",
            "AWS::S3::BucketPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
        ):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


def function_statements(resources: dict) -> list[dict]:
    """The statements that reach the training function's role, rendered for reading:
    Action and Resource always lists, resources as text (see ``render``).

    Fails on a NotAction or NotResource, which would grant everything else."""
    role = function_role_id(resources)
    bucket = bucket_id(resources)
    statements = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        attached = {"Ref": role} in properties.get("Roles", [])
        if resource["Type"] == "AWS::IAM::Policy" and attached:
            statements += properties["PolicyDocument"]["Statement"]
    statements += [
        statement
        for policy in resources[role]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        # NotAction / NotResource would grant everything else: never expected here.
        assert "NotAction" not in statement and "NotResource" not in statement, statement
    return [
        {
            **statement,
            "Action": as_list(statement["Action"]),
            "Resource": [render(r, bucket) for r in as_list(statement["Resource"])],
        }
        for statement in statements
    ]


def allowed(statements: list[dict], action: str) -> list[dict]:
    """The Allow statements among rendered ``statements`` that name ``action`` itself."""
    return [s for s in statements if s["Effect"] == "Allow" and action in s["Action"]]


def iam_matches(arn: str, pattern: str) -> bool:
    """Whether an IAM resource ``pattern`` covers ``arn``: ``*`` is any run of characters
    (``/`` included), ``?`` any one character, everything else literal, case-sensitive."""
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def bucket_policy_statements(resources: dict, bucket: str) -> list[dict]:
    """The statements of the one bucket policy on ``bucket`` (a logical id)."""
    (policy,) = [
        r
        for r in of_type(resources, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def tls_only_statement(action: str) -> object:
    """A matcher for the statement that denies ``action`` to requests without TLS."""
    return Match.object_like(
        {
            "Effect": "Deny",
            "Action": action,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def notification_filters(resources: dict) -> list[set[tuple[str, str]]]:
    """Each notification's key filter as {(rule name, value)}.

    Fails unless every one sends every ObjectCreated event to the trigger queue, and
    nothing is notified any other way (no Lambda function, no topic)."""
    _, notifications = only(of_type(resources, "Custom::S3BucketNotifications"))
    configuration = notifications["Properties"]["NotificationConfiguration"]
    assert set(configuration) == {"QueueConfigurations"}, configuration
    targets = configuration["QueueConfigurations"]
    for target in targets:
        assert target["Events"] == ["s3:ObjectCreated:*"]
        assert target["QueueArn"] == {"Fn::GetAtt": [trigger_queue_id(resources), "Arn"]}
    return [
        {(rule["Name"], rule["Value"]) for rule in target["Filter"]["Key"]["FilterRules"]}
        for target in targets
    ]


def alarms_by_metric(resources: dict) -> dict[str, dict]:
    """Every alarm's properties, by the name of the metric it watches."""
    return {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
    }


def nag_suppressions(resources: dict) -> list[tuple[str, dict]]:
    """Every cdk-nag suppression in resource metadata, as (logical id, suppression)."""
    return [
        (logical_id, suppression)
        for logical_id, resource in resources.items()
        for suppression in resource.get("Metadata", {})
        .get("cdk_nag", {})
        .get("rules_to_suppress", [])
    ]


def alarm_topic_id(resources: dict) -> str:
    """The SNS topic the alarms notify (there is one only with linreg:alarmEmail)."""
    (topic,) = {
        action["Ref"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        for action in alarm["Properties"].get("AlarmActions", [])
    }
    return topic


def run_rules(resources: dict) -> dict[str, dict]:
    """The EventBridge rules on the completion events (source "linreg"), by logical id."""
    return {
        k: r
        for k, r in of_type(resources, "AWS::Events::Rule").items()
        if r["Properties"].get("EventPattern", {}).get("source") == ["linreg"]
    }
