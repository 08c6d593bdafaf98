"""Mail about finished runs (linreg:notifyEmail): the rules on the completion events, the
topic they publish to, its key and its policy; and nothing of them without an address."""

from __future__ import annotations

import re

from linreg.contract import EVENT_DETAIL_TYPE, EVENT_SOURCE
from template import (
    alarm_topic_id,
    as_list,
    bucket_id,
    of_type,
    only,
    run_rules,
)

# The completion event's detail fields (docs/reference.md, "After a run").
DETAIL_FIELDS = {
    "bucket", "input_key", "model", "run_id", "status", "error_code", "error_message",
    "test_mse", "train_mse", "test_r2", "train_r2", "baseline_test_mse",
    "baseline_train_mse", "baseline_test_r2", "baseline_train_r2", "rows", "iterations",
    "latest_moved", "promoted", "promotion_reason", "report_key", "page_key", "failure_key",
    "duration_seconds", "cost",
}  # fmt: skip
# The configured app's linreg:eventBusName.
CONFIGURED_BUS = "linreg-runs"


def run_topic_id(resources: dict) -> str:
    """The topic the run rules publish to: one for both."""
    (topic,) = {
        target["Arn"]["Ref"]
        for rule in run_rules(resources).values()
        for target in rule["Properties"]["Targets"]
    }
    return topic


def by_status(resources: dict) -> dict[str, dict]:
    """The run rules' properties, by the status pattern they match, as text."""
    return {
        str(rule["Properties"]["EventPattern"]["detail"]["status"]): rule["Properties"]
        for rule in run_rules(resources).values()
    }


def test_no_address_no_rules_no_topic(resources: dict) -> None:
    assert run_rules(resources) == {}
    assert of_type(resources, "AWS::SNS::Topic") == {}
    assert of_type(resources, "AWS::KMS::Key") == {}


def test_two_rules_match_this_stacks_finished_runs_one_for_success(
    configured_resources: dict,
) -> None:
    rules = by_status(configured_resources)

    assert sorted(rules) == ["['succeeded']", "[{'anything-but': 'succeeded'}]"]
    for rule in rules.values():
        pattern = rule["EventPattern"]
        assert pattern["source"] == [EVENT_SOURCE]
        assert pattern["detail-type"] == [EVENT_DETAIL_TYPE]
        # Another stack's runs on a shared bus are not this one's to mail.
        assert pattern["detail"]["bucket"] == [{"Ref": bucket_id(configured_resources)}]
        assert rule["State"] == "ENABLED"


def test_the_rules_are_on_the_configured_bus(configured_resources: dict) -> None:
    for rule in run_rules(configured_resources).values():
        assert rule["Properties"]["EventBusName"] == CONFIGURED_BUS


def test_on_the_default_bus_the_rules_name_no_bus(notify_only_resources: dict) -> None:
    rules = run_rules(notify_only_resources)

    assert len(rules) == 2
    for rule in rules.values():
        assert "EventBusName" not in rule["Properties"]
    assert run_topic_id(notify_only_resources)


def test_each_rule_sends_a_one_line_message_of_the_events_detail(
    configured_resources: dict,
) -> None:
    for status, rule in by_status(configured_resources).items():
        (target,) = rule["Targets"]
        transformer = target["InputTransformer"]
        template = transformer["InputTemplate"]
        paths = transformer["InputPathsMap"]

        # A JSON string: SNS mails its text.
        assert template.startswith('"linreg run <') and template.endswith('"'), template
        assert "\n" not in template
        assert set(re.findall(r"<([^<>]+)>", template)) == set(paths)
        for path in paths.values():
            assert path.startswith("$.detail."), path
            assert path.removeprefix("$.detail.").split(".")[0] in DETAIL_FIELDS, path
        fields = {path.removeprefix("$.detail.") for path in paths.values()}
        if status == "['succeeded']":
            assert {"test_mse", "baseline_test_mse", "latest_moved", "report_key"} <= fields
        else:
            assert {"status", "error_code", "failure_key"} <= fields
        assert {"run_id", "model", "bucket"} <= fields


def test_the_address_subscribes_to_the_run_topic(configured_resources: dict) -> None:
    topic = run_topic_id(configured_resources)
    subscriptions = [
        s["Properties"]
        for s in of_type(configured_resources, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic}
    ]

    assert subscriptions == [
        {"Protocol": "email", "Endpoint": "runs@example.com", "TopicArn": {"Ref": topic}}
    ]
    # Its own topic, not the alarms'.
    assert topic != alarm_topic_id(configured_resources)


def test_only_the_two_rules_may_publish_and_only_over_tls(configured_resources: dict) -> None:
    topic = run_topic_id(configured_resources)
    _, policy = only(
        {
            k: r
            for k, r in of_type(configured_resources, "AWS::SNS::TopicPolicy").items()
            if r["Properties"]["Topics"] == [{"Ref": topic}]
        }
    )
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    rules = sorted(run_rules(configured_resources))

    assert [(s["Principal"], s["Action"]) for s in allows] == [
        ({"Service": "events.amazonaws.com"}, "sns:Publish")
    ]
    (allow,) = allows
    assert sorted(a["Fn::GetAtt"][0] for a in allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == (
        rules
    )
    assert [(s["Action"], s["Condition"]) for s in denies] == [
        ("sns:Publish", {"Bool": {"aws:SecureTransport": "false"}})
    ]


def test_the_run_topic_is_encrypted_with_a_rotated_key_only_this_accounts_rules_use(
    configured_resources: dict,
) -> None:
    topic = configured_resources[run_topic_id(configured_resources)]
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = configured_resources[key_id]
    (for_events,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    rules_here = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":events:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":rule/*",
            ],
        ]
    }

    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Delete"
    assert sorted(as_list(for_events["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert for_events["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": rules_here},
    }
