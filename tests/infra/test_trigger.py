"""What starts a run: S3 notifications into the trigger queue, and the function consuming
it one upload at a time with a bounded number of runs at once."""

from __future__ import annotations

from aws_cdk.assertions import Match

from template import (
    bucket_id,
    function_id,
    notification_filters,
    of_type,
    only,
    tls_only_statement,
    trigger_queue_id,
)


def event_source_mapping(resources: dict) -> dict:
    """The properties of the one event source mapping."""
    _, mapping = only(of_type(resources, "AWS::Lambda::EventSourceMapping"))
    return mapping["Properties"]


def queue_policy_statements(resources: dict, queue: str) -> list[dict]:
    """The statements of the one queue policy on ``queue`` (a logical id)."""
    (policy,) = [
        r
        for r in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- S3 -> the trigger queue --------------------------------------------------------------


def test_uploads_and_csvs_to_score_go_to_the_trigger_queue(
    resources: dict,
) -> None:
    assert sorted(map(sorted, notification_filters(resources))) == [
        [("prefix", "incoming/"), ("suffix", ".csv")],
        [("prefix", "incoming/"), ("suffix", ".csv.gz")],
        [("prefix", "incoming/"), ("suffix", ".manifest.json")],
        [("prefix", "predict/"), ("suffix", ".csv")],
        [("prefix", "predict/"), ("suffix", ".csv.gz")],
    ]


def test_trigger_follows_the_configured_upload_and_predict_prefixes(
    configured_resources: dict,
) -> None:
    prefixes = {
        value
        for rules in notification_filters(configured_resources)
        for name, value in rules
        if name == "prefix"
    }

    assert prefixes == {"uploads/", "to-score/"}


def test_only_this_buckets_notifications_may_send_to_the_trigger_queue(resources: dict) -> None:
    queue = trigger_queue_id(resources)
    senders = [
        s
        for s in queue_policy_statements(resources, queue)
        if s["Effect"] == "Allow" and "sqs:SendMessage" in s["Action"]
    ]

    assert [s["Principal"] for s in senders] == [{"Service": "s3.amazonaws.com"}]
    assert senders[0]["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket_id(resources), "Arn"]}}
    }


def test_s3_no_longer_invokes_the_function_directly(resources: dict) -> None:
    # A direct S3 -> Lambda trigger would bypass the queue and its concurrency bound.
    function = {"Fn::GetAtt": [function_id(resources), "Arn"]}
    s3_permissions = [
        p
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
        and p["Properties"]["FunctionName"] == function
    ]

    assert s3_permissions == []


# --- the trigger queue -> the function ----------------------------------------------------


def test_function_consumes_the_trigger_queue_one_upload_per_invocation(resources: dict) -> None:
    mapping = event_source_mapping(resources)

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [trigger_queue_id(resources), "Arn"]}
    assert mapping["FunctionName"] == {"Ref": function_id(resources)}
    assert mapping["BatchSize"] == 1


def test_at_most_five_runs_execute_at_once_by_default(resources: dict) -> None:
    # Bounded by the mapping, not by reserved concurrency, which a new account (a Lambda
    # concurrency quota of 10) cannot reserve.
    assert event_source_mapping(resources)["ScalingConfig"] == {"MaximumConcurrency": 5}


def test_runs_at_once_follow_the_context(configured_resources: dict) -> None:
    assert event_source_mapping(configured_resources)["ScalingConfig"] == {"MaximumConcurrency": 2}


# --- the trigger queue itself -------------------------------------------------------------


def test_trigger_queue_is_encrypted_with_sqs_managed_keys(resources: dict) -> None:
    queue = resources[trigger_queue_id(resources)]

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue["Properties"]


def test_trigger_queue_denies_requests_without_tls(resources: dict) -> None:
    statements = queue_policy_statements(resources, trigger_queue_id(resources))

    assert Match.array_with([tls_only_statement("sqs:*")]).test(statements).is_success


def test_trigger_queue_hides_a_delivered_message_for_six_function_timeouts(
    resources: dict,
) -> None:
    queue = resources[trigger_queue_id(resources)]

    assert queue["Properties"]["VisibilityTimeout"] == 6 * 300


def test_trigger_queue_visibility_follows_the_configured_timeout(
    configured_resources: dict,
) -> None:
    queue = configured_resources[trigger_queue_id(configured_resources)]

    assert queue["Properties"]["VisibilityTimeout"] == 6 * 600


def test_trigger_queue_keeps_waiting_uploads_at_least_four_days(resources: dict) -> None:
    queue = resources[trigger_queue_id(resources)]

    assert queue["Properties"]["MessageRetentionPeriod"] >= 4 * 24 * 3600


def test_an_upload_failed_three_times_moves_to_the_failure_queue(resources: dict) -> None:
    queue = resources[trigger_queue_id(resources)]
    (failure_queue,) = [k for k in of_type(resources, "AWS::SQS::Queue") if "FailureQueue" in k]

    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [failure_queue, "Arn"]},
        "maxReceiveCount": 3,
    }
