"""Asynchronous invocation: retries, the event age limit, and the failure queue."""

from __future__ import annotations

from aws_cdk.assertions import Template

from template import function_id, of_type, only, tls_only_statement


def test_async_events_are_retried_twice_then_sent_to_the_failure_queue(resources: dict) -> None:
    _, config = only(of_type(resources, "AWS::Lambda::EventInvokeConfig"))
    queue, _ = only(of_type(resources, "AWS::SQS::Queue"))
    properties = config["Properties"]

    assert properties["FunctionName"] == {"Ref": function_id(resources)}
    assert properties["MaximumRetryAttempts"] == 2
    assert properties["MaximumEventAgeInSeconds"] == 6 * 3600
    assert properties["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}
    }


def test_max_event_age_follows_the_context(configured_resources: dict) -> None:
    _, config = only(of_type(configured_resources, "AWS::Lambda::EventInvokeConfig"))

    assert config["Properties"]["MaximumEventAgeInSeconds"] == 3600


def test_failure_queue_is_encrypted_and_keeps_messages_14_days(resources: dict) -> None:
    _, queue = only(of_type(resources, "AWS::SQS::Queue"))

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_failure_queue_denies_requests_without_tls(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy", {"PolicyDocument": {"Statement": [tls_only_statement("sqs:*")]}}
    )
