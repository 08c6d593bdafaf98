"""Typed accessors over S3 notification records, one short property each.

The records come as S3 sends them to Lambda, or wrapped by SQS (the stack's trigger
queue) or SNS, or as EventBridge's "Object Created" event: ``s3_records`` takes them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote_plus, unquote_plus


@dataclass(frozen=True)
class S3Record:
    """One record of an S3 ``ObjectCreated`` notification."""

    raw: dict

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
        return datetime.fromisoformat(self.raw["eventTime"])

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
