"""The failure queue: the trigger queue's dead-letter queue, read by a person. The function
is no longer invoked asynchronously, so it has no async retries or destination."""

from __future__ import annotations

from aws_cdk.assertions import Match

from template import (
    failure_queue_id,
    function_statements,
    of_type,
    tls_only_statement,
    trigger_queue_id,
)


def test_failure_queue_keeps_its_construct_id(resources: dict) -> None:
    # Renaming it would replace the queue, and lose what it holds, on the next deploy.
    assert failure_queue_id(resources).startswith("FailureQueue")


def test_failure_queue_is_encrypted_and_keeps_messages_14_days(resources: dict) -> None:
    queue = resources[failure_queue_id(resources)]

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_failure_queue_outlives_the_trigger_queues_retention(resources: dict) -> None:
    # A moved message keeps its first enqueue time: with a retention no longer than the
    # trigger queue's, a notification that failed late would expire on arrival.
    failures = resources[failure_queue_id(resources)]["Properties"]
    trigger = resources[trigger_queue_id(resources)]["Properties"]

    assert failures["MessageRetentionPeriod"] > trigger["MessageRetentionPeriod"]


def test_failure_queue_denies_requests_without_tls(resources: dict) -> None:
    queue = failure_queue_id(resources)
    (policy,) = [
        r
        for r in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    assert Match.array_with([tls_only_statement("sqs:*")]).test(statements).is_success


def test_nothing_consumes_the_failure_queue(resources: dict) -> None:
    queue = {"Fn::GetAtt": [failure_queue_id(resources), "Arn"]}
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()

    assert [m for m in mappings if m["Properties"]["EventSourceArn"] == queue] == []


def test_function_cannot_reach_the_failure_queue(resources: dict) -> None:
    # SQS moves messages there itself; the function needs no access.
    queue = failure_queue_id(resources)

    assert [s for s in function_statements(resources) if queue in str(s["Resource"])] == []


def test_function_has_no_async_retry_settings_or_destination(resources: dict) -> None:
    # Nothing invokes it asynchronously any more: the queue redelivers instead.
    assert of_type(resources, "AWS::Lambda::EventInvokeConfig") == {}
