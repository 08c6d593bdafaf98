"""Typed accessors over S3 notification records, one short property each.

The records come as S3 sends them to Lambda, or wrapped by SQS (the stack's trigger
queue) or SNS, or as EventBridge's "Object Created" event: ``s3_records`` takes them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard, cast
from urllib.parse import quote_plus, unquote_plus


@dataclass(frozen=True)
class S3Record:
    """One record of an S3 ``ObjectCreated`` notification."""

    raw: dict

    @property
    def problem(self) -> str | None:
        """Why the record cannot be acted on (a field missing or of the wrong kind), or
        ``None``. The other accessors may raise on a record with a problem."""
        s3 = self.raw.get("s3")
        if not isinstance(s3, dict) or not isinstance(s3.get("object"), dict):
            return "the record has no s3.object"
        if not isinstance(s3.get("bucket"), dict) or not _text(s3["bucket"].get("name")):
            return "the record has no s3.bucket.name"
        if not _text(s3["object"].get("key")):
            return "the record has no s3.object.key"
        try:
            self.event_time  # noqa: B018 - parsed only to check it
        except (TypeError, ValueError):
            return "the record's eventTime is missing or not an ISO 8601 time"
        for field in ("eTag", "sequencer", "versionId"):
            if not isinstance(s3["object"].get(field) or "", str):
                return f"the record's s3.object.{field} is not text"
        size = s3["object"].get("size") or 0
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return "the record's s3.object.size is not a whole number of bytes"
        return None

    @property
    def bucket(self) -> str:
        return self.raw["s3"]["bucket"]["name"]

    @property
    def key(self) -> str:
        """The object key, decoded: S3 sends it URL-encoded, spaces as ``+``."""
        return unquote_plus(self.raw["s3"]["object"]["key"])

    @property
    def etag(self) -> str | None:
        return self.raw["s3"]["object"].get("eTag")

    @property
    def event_time(self) -> datetime:
        """When S3 saw the upload; a time without a zone is UTC, as S3's are."""
        moment = datetime.fromisoformat(cast(str, self.raw.get("eventTime")))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @property
    def size(self) -> int | None:
        return self.raw["s3"]["object"].get("size")

    @property
    def sequencer(self) -> str | None:
        """Orders events on the same key (hex; compare after zero-padding). Not always sent."""
        return self.raw["s3"]["object"].get("sequencer")

    @property
    def version_id(self) -> str | None:
        """Present only when the bucket is versioned."""
        return self.raw["s3"]["object"].get("versionId")

    def where(self) -> dict[str, str]:
        """Bucket and key as far as the record gives them, for an outcome and a log line
        (a record with a ``problem`` may lack either)."""
        given = self.raw.get("s3")
        s3 = given if isinstance(given, dict) else {}
        bucket, item = s3.get("bucket"), s3.get("object")
        name = bucket.get("name") if isinstance(bucket, dict) else None
        key = item.get("key") if isinstance(item, dict) else None
        return {
            "bucket": name if _text(name) else "",
            "key": unquote_plus(key) if _text(key) else "",
        }


def s3_records(event: dict) -> list[S3Record]:
    """The S3 records of an event, however it arrived. S3's ``s3:TestEvent`` (sent when a
    notification is set up) has none, nor has a wrapper whose body is not an S3 event."""
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
        return [_from_eventbridge(event)]
    records = []
    for record in event.get("Records") or []:
        source = record.get("eventSource") or record.get("EventSource")
        if source == "aws:s3":
            records.append(S3Record(record))
        elif source == "aws:sqs":
            records += s3_records(_json(record.get("body")))
        elif source == "aws:sns":
            records += s3_records(_json((record.get("Sns") or {}).get("Message")))
    return records


def is_test_event(event: dict) -> bool:
    """S3's ``s3:TestEvent``, alone or wrapped in an SQS message, as a saved event has it."""
    bodies = [event] + [_json(record.get("body")) for record in event.get("Records") or []]
    return any(body.get("Event") == "s3:TestEvent" for body in bodies)


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _json(text: object) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _from_eventbridge(event: dict) -> S3Record:
    """EventBridge's form as a notification record; its keys are not URL-encoded."""
    bucket, item = event["detail"].get("bucket", {}), event["detail"].get("object", {})
    fields = {"size": "size", "etag": "eTag", "sequencer": "sequencer", "version-id": "versionId"}
    return S3Record(
        {
            "eventSource": "aws:s3",
            "eventTime": event.get("time"),
            "s3": {
                "bucket": {"name": bucket.get("name")},
                "object": {
                    "key": quote_plus(item.get("key", "")),
                    **{ours: item[theirs] for theirs, ours in fields.items() if theirs in item},
                },
            },
        }
    )
