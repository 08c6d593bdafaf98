"""The S3 notifications that start a run: which uploads trigger the function."""

from __future__ import annotations

from template import notification_filters


def test_csv_and_gzipped_csv_created_under_incoming_trigger_the_function(
    resources: dict,
) -> None:
    assert sorted(map(sorted, notification_filters(resources))) == [
        [("prefix", "incoming/"), ("suffix", ".csv")],
        [("prefix", "incoming/"), ("suffix", ".csv.gz")],
    ]


def test_trigger_follows_the_configured_upload_prefix(configured_resources: dict) -> None:
    prefixes = {
        value
        for rules in notification_filters(configured_resources)
        for name, value in rules
        if name == "prefix"
    }

    assert prefixes == {"uploads/"}
