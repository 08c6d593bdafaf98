"""Typed accessors over the S3 notification event, one short property each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus


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
    """The S3 records of an event. S3's ``s3:TestEvent`` (sent on setup) has none."""
    return [
        S3Record(record)
        for record in event.get("Records", [])
        if record.get("eventSource") == "aws:s3"
    ]
