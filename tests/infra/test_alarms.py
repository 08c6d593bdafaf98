"""The alarms, and the optional email topic they notify."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from linreg.contract import Metric
from template import (
    alarm_topic_id,
    alarms_by_metric,
    as_list,
    failure_queue_id,
    function_id,
    of_type,
    only,
    tls_only_statement,
    trigger_queue_id,
)

# The alarms that fire on a single event in a five-minute window.
COUNTING = (
    "Errors",
    "Throttles",
    "ApproximateNumberOfMessagesVisible",
    "RunsFailed",
    "EventsNotSent",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
)
# The state machine's: a distributed run that ended badly.
EXECUTIONS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")


def test_alarms_watch_errors_throttles_duration_queues_failed_runs_and_executions(
    resources: dict,
) -> None:
    alarms = alarms_by_metric(resources)

    assert set(alarms) == {*COUNTING, "Duration", "ApproximateAgeOfOldestMessage"}
    for alarm in alarms.values():
        assert alarm["Period"] == 300
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_counting_alarms_fire_at_one(resources: dict) -> None:
    alarms = alarms_by_metric(resources)

    assert {name: alarms[name]["Threshold"] for name in COUNTING} == dict.fromkeys(COUNTING, 1)


def test_failure_queue_alarm_fires_when_the_dead_letter_queue_holds_an_upload(
    resources: dict,
) -> None:
    alarm = alarms_by_metric(resources)["ApproximateNumberOfMessagesVisible"]

    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [failure_queue_id(resources), "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum"


def test_backlog_alarm_fires_when_an_upload_waited_an_hour_in_the_trigger_queue(
    resources: dict,
) -> None:
    alarm = alarms_by_metric(resources)["ApproximateAgeOfOldestMessage"]

    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [trigger_queue_id(resources), "QueueName"]}}
    ]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 3600)


def test_duration_alarm_fires_at_80_percent_of_the_timeout(resources: dict) -> None:
    alarm = alarms_by_metric(resources)["Duration"]

    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": function_id(resources)}}
    ]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 0.8 * 300 * 1000)


def test_duration_alarm_follows_the_configured_timeout(configured_resources: dict) -> None:
    alarm = alarms_by_metric(configured_resources)["Duration"]

    assert alarm["Threshold"] == 0.8 * 600 * 1000


@pytest.mark.parametrize("metric", ["RunsFailed", "EventsNotSent"])
def test_library_metric_alarms_watch_the_librarys_namespace(resources: dict, metric) -> None:
    alarm = alarms_by_metric(resources)[metric]

    assert alarm["Namespace"] == "Linreg"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "linreg"}]
    assert alarm["Statistic"] == "Sum"


def test_events_not_sent_alarm_watches_the_contracts_metric(resources: dict) -> None:
    # The name the function counts a completion event under that EventBridge did not take.
    assert Metric.EVENTS_NOT_SENT in alarms_by_metric(resources)


def test_alarms_notify_no_one_without_an_email(resources: dict) -> None:
    assert of_type(resources, "AWS::SNS::Topic") == {}
    for alarm in alarms_by_metric(resources).values():
        assert "AlarmActions" not in alarm


def test_alarm_email_subscribes_to_a_topic_every_alarm_notifies(
    configured_resources: dict,
) -> None:
    topic = alarm_topic_id(configured_resources)
    _, subscription = only(
        {
            k: r
            for k, r in of_type(configured_resources, "AWS::SNS::Subscription").items()
            if r["Properties"]["TopicArn"] == {"Ref": topic}
        }
    )

    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    for alarm in alarms_by_metric(configured_resources).values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def alarm_topic_key(resources: dict) -> tuple[str, dict]:
    """The alarm topic's KMS key: (logical id, resource)."""
    topic = resources[alarm_topic_id(resources)]
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    return key_id, resources[key_id]


def cloudwatch_key_statements(resources: dict) -> list[dict]:
    """The alarm topic key's policy statements for CloudWatch."""
    key = alarm_topic_key(resources)[1]
    return [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]


def test_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    configured_resources: dict,
) -> None:
    topic = configured_resources[alarm_topic_id(configured_resources)]
    key_id, key = alarm_topic_key(configured_resources)
    (for_cloudwatch,) = cloudwatch_key_statements(configured_resources)

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert for_cloudwatch["Effect"] == "Allow"
    assert sorted(as_list(for_cloudwatch["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_alarm_topic_key_serves_cloudwatch_only_for_this_accounts_alarms(
    configured_resources: dict,
) -> None:
    (for_cloudwatch,) = cloudwatch_key_statements(configured_resources)
    alarms_here = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":alarm:*",
            ],
        ]
    }

    assert for_cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": alarms_here},
    }


def test_alarm_topic_denies_publishing_without_tls(configured_template: Template) -> None:
    configured_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([tls_only_statement("sns:Publish")])}},
    )


def test_execution_alarms_watch_the_state_machine_sum_over_five_minutes(
    resources: dict,
) -> None:
    state_machine, _ = only(of_type(resources, "AWS::StepFunctions::StateMachine"))
    alarms = alarms_by_metric(resources)

    for name in EXECUTIONS:
        alarm = alarms[name]
        assert alarm["Namespace"] == "AWS/States"
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": state_machine}}]
        assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 300)


def test_execution_alarms_notify_the_topic_too(configured_resources: dict) -> None:
    topic = alarm_topic_id(configured_resources)
    alarms = alarms_by_metric(configured_resources)

    assert [alarms[name]["AlarmActions"] for name in EXECUTIONS] == [[{"Ref": topic}]] * 3
