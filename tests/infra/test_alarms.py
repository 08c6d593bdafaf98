"""The alarms, and the optional email topic they notify."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from template import alarms_by_metric, as_list, of_type, only, tls_only_statement


def test_alarms_fire_on_errors_throttles_queued_failures_and_failed_runs(resources: dict) -> None:
    alarms = alarms_by_metric(resources)

    assert set(alarms) == {
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "RunsFailed",
    }
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_failed_runs_alarm_watches_the_library_metric(resources: dict) -> None:
    alarm = alarms_by_metric(resources)["RunsFailed"]

    assert alarm["Namespace"] == "Linreg"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "linreg"}]
    assert alarm["Statistic"] == "Sum"


def test_alarms_notify_no_one_without_an_email(resources: dict) -> None:
    assert of_type(resources, "AWS::SNS::Topic") == {}
    for alarm in alarms_by_metric(resources).values():
        assert "AlarmActions" not in alarm


def test_alarm_email_subscribes_to_a_topic_every_alarm_notifies(
    configured_resources: dict,
) -> None:
    topic, _ = only(of_type(configured_resources, "AWS::SNS::Topic"))
    _, subscription = only(of_type(configured_resources, "AWS::SNS::Subscription"))

    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    for alarm in alarms_by_metric(configured_resources).values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    configured_resources: dict,
) -> None:
    _, topic = only(of_type(configured_resources, "AWS::SNS::Topic"))
    key_id, key = only(of_type(configured_resources, "AWS::KMS::Key"))
    for_cloudwatch = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert sorted(as_list(for_cloudwatch[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_alarm_topic_denies_publishing_without_tls(configured_template: Template) -> None:
    configured_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([tls_only_statement("sns:Publish")])}},
    )
