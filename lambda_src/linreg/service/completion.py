"""How a run's end reaches beyond its files, as the deployment sets it: the promotion
rule, the cost meter, and the completion event on EventBridge.

One event per run, whatever the deliveries: the delivery that puts it first claims the
run's EVENT_FILE with a conditional write (beside report.json, or beside the failure
record), so a redelivery, even one running at the same moment, finds the claim and puts
nothing. The claim holds the event's detail, for whoever wants to know what was sent. A
put EventBridge refuses never fails the run: it is logged and counted (EventsNotSent).
Claiming before the put means a crash between the two loses the event rather than sending
it twice; nothing runs between them but the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from linreg.contract import (
    EVENT_BUS_ENV,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    PROMOTION_ENV,
    SERVICE_NAME,
)
from linreg.cost import Meter
from linreg.jsonfile import to_json
from linreg.promotion import Promotion
from linreg.service import storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(service=SERVICE_NAME, child=True)

# The detail's fields, in order; docs/reference.md ("The completion event") describes each,
# and events/run-finished.json is a sample (tests hold all three together).
DETAIL_FIELDS = (
    "bucket",
    "input_key",
    "model",
    "run_id",
    "status",
    "error_code",
    "error_message",
    "test_mse",
    "train_mse",
    "test_r2",
    "train_r2",
    "baseline_test_mse",
    "baseline_train_mse",
    "baseline_test_r2",
    "baseline_train_r2",
    "rows",
    "iterations",
    "latest_moved",
    "promoted",
    "promotion_reason",
    "report_key",
    "page_key",
    "failure_key",
    "duration_seconds",
    "cost",
)
# A report's scores, copied into the detail under the same names.
SCORES = DETAIL_FIELDS[DETAIL_FIELDS.index("test_mse") : DETAIL_FIELDS.index("rows")]


@dataclass(frozen=True, kw_only=True)
class Completion:
    """The deployment's after-run settings: which bus (``None``: no event, as outside a
    deployment), the promotion rule and the cost meter. ``events`` makes the EventBridge
    client, only when an event is put."""

    bus: str | None = None
    promotion: Promotion = field(default_factory=Promotion)
    meter: Meter = field(default_factory=Meter)
    events: Callable[[], Any] | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, events: Callable[[], Any] | None = None
    ) -> Completion:
        """A bad setting is the operator's bug: ``ValueError`` (the stack checks them)."""
        return cls(
            bus=env.get(EVENT_BUS_ENV, "").strip() or None,
            promotion=Promotion.parse(env.get(PROMOTION_ENV)),
            meter=Meter.from_env(env),
            events=events,
        )

    def announce(self, s3: S3Client, bucket: str, claim_key: str, detail: dict) -> bool | None:
        """Put the run's event unless a delivery has claimed it: ``True`` put, ``False``
        not taken by EventBridge (logged, counted), ``None`` nothing to do (no bus, or
        claimed already)."""
        if self.bus is None or self.events is None:
            return None
        if not storage.put_if_absent(s3, bucket, claim_key, to_json(detail)):
            return None
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": EVENT_DETAIL_TYPE,
            "Detail": json.dumps(detail),
            "EventBusName": self.bus,
        }
        try:
            answer = self.events().put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as error:
            logger.warning("completion event not sent", extra={"error": str(error)})
            return False
        # PutEvents answers 200 even when it refuses an entry: the entry says so.
        failed = [item for item in answer.get("Entries", []) if item.get("ErrorCode")]
        if answer.get("FailedEntryCount") or failed:
            problem = failed[0] if failed else {}
            logger.warning(
                "completion event not sent",
                extra={"code": problem.get("ErrorCode"), "error": problem.get("ErrorMessage")},
            )
            return False
        return True


def detail(
    *,
    where: Mapping[str, str],
    name: str,
    run_id: str,
    status: str,
    report: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None = None,
    latest_moved: bool | None = None,
    keys: Mapping[str, str | None],
    cost: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The event's detail (DETAIL_FIELDS): the run's numbers from its ``report`` (a failed
    run may have none), its keys, and what it cost."""
    report = report or {}
    promotion = report.get("promotion") or {}
    values = {
        "bucket": where["bucket"],
        "input_key": where["key"],
        "model": name,
        "run_id": run_id,
        "status": str(status),
        "error_code": (error or {}).get("code"),
        "error_message": (error or {}).get("message"),
        **{score: report.get(score) for score in SCORES},
        "rows": (report.get("rows") or {}).get("total"),
        "iterations": report.get("iterations_run"),
        "latest_moved": latest_moved,
        "promoted": report.get("promoted"),
        "promotion_reason": promotion.get("reason"),
        "report_key": keys.get("report_key"),
        "page_key": keys.get("page_key"),
        "failure_key": keys.get("failure_key"),
        "duration_seconds": (cost or {}).get("billed_seconds"),
        "cost": dict(cost) if cost else None,
    }
    return {name: values[name] for name in DETAIL_FIELDS}
