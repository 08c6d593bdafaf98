"""S3 notification records: well-formed ones read as S3 sends them, malformed ones skipped."""

import json

import pytest

from helpers import BUCKET, DATA, event_for
from linreg import handler
from linreg.service.event import S3Record, s3_records

MALFORMED = DATA / "events" / "s3-put-malformed-records.json"


def record(**changes) -> dict:
    """The sample record, with ``changes`` (``None`` deletes a field) to s3.object."""
    raw = event_for("incoming/iris.csv")["Records"][0]
    for field, value in changes.items():
        if value is None:
            del raw["s3"]["object"][field]
        else:
            raw["s3"]["object"][field] = value
    return raw


def test_a_well_formed_record_has_no_problem():
    assert S3Record(record()).problem is None


@pytest.mark.parametrize(
    "change",
    [
        {"key": None},
        {"key": ""},
        {"key": 7},
        {"size": "big"},
        {"size": -1},
        {"eTag": 12},
    ],
)
def test_a_record_with_a_bad_object_field_has_a_problem(change):
    assert S3Record(record(**change)).problem


@pytest.mark.parametrize("time", [None, "yesterday", 1764417600])
def test_a_record_without_a_usable_event_time_has_a_problem(time):
    raw = record()
    raw.pop("eventTime") if time is None else raw.update(eventTime=time)
    assert "eventTime" in S3Record(raw).problem


def test_a_record_without_a_bucket_has_a_problem():
    raw = record()
    del raw["s3"]["bucket"]
    assert "bucket" in S3Record(raw).problem


def test_an_event_time_without_a_zone_is_utc():
    raw = record()
    raw["eventTime"] = "2026-11-29T12:00:00"
    assert S3Record(raw).event_time.utcoffset().total_seconds() == 0


def test_malformed_records_are_skipped_not_raised(s3):
    event = json.loads(MALFORMED.read_text())

    outcomes = handler.handle_event(event, s3=s3, env={})

    assert [outcome["status"] for outcome in outcomes] == ["skipped"] * 3
    assert all(outcome["reason"].startswith("the record") for outcome in outcomes)


def test_a_malformed_record_inside_sqs_is_skipped(s3):
    raw = record()
    del raw["eventTime"]
    body = json.dumps({"Records": [raw]})
    event = {"Records": [{"eventSource": "aws:sqs", "body": body}]}

    (outcome,) = handler.handle_event(event, s3=s3, env={})

    assert outcome == {
        "bucket": BUCKET,
        "key": "incoming/iris.csv",
        "status": "skipped",
        "reason": S3Record(raw).problem,
    }


def test_an_eventbridge_event_without_a_key_has_a_problem():
    event = {
        "source": "aws.s3",
        "time": "2026-11-29T12:00:00Z",
        "detail": {"bucket": {"name": BUCKET}},
    }
    (converted,) = s3_records(event)
    assert "s3.object.key" in converted.problem
