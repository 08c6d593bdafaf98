"""The completion event: one EventBridge event per run that ends, through the handler on
moto (a rule on the bus delivers what was put to a queue, which the tests read)."""

import json
import re
import sys
from pathlib import Path

import boto3
import pytest

from helpers import BUCKET, ROOT, event_for, iris_like, read_json, with_bad_cell
from linreg import handler
from linreg.contract import EVENT_BUS_ENV, EVENT_DETAIL_TYPE, EVENT_SOURCE
from linreg.service.completion import DETAIL_FIELDS, Completion
from linreg.service.layout import MAX_KEY_BYTES, RUN_ID_LENGTH, Layout

ENV = {EVENT_BUS_ENV: "default"}
SAMPLE = ROOT / "events" / "run-finished.json"
REFERENCE = ROOT / "docs" / "reference.md"


@pytest.fixture
def bus(s3):
    """What reached the default bus from linreg: a rule sends it to a queue."""
    handler.forget_clients()  # the events client of another test's moto is gone
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="run-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}
    events.put_rule(Name="runs", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="runs", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return received


def handle(s3, key: str, body: bytes | None = None, env=None) -> dict:
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    (outcome,) = handler.handle_event(event_for(key), s3=s3, env={**ENV, **(env or {})})
    return outcome


def test_a_succeeded_run_puts_one_event_with_the_documented_fields(s3, bus, iris_bytes):
    outcome = handle(s3, "incoming/iris.csv", iris_bytes)

    (event,) = bus()
    assert event["source"] == "linreg" and event["detail-type"] == "Run Finished"
    detail = event["detail"]
    assert list(detail) == list(DETAIL_FIELDS)
    report = read_json(s3, f"{outcome['prefix']}report.json")
    assert detail["run_id"] == outcome["run_id"] and detail["status"] == "succeeded"
    assert detail["model"] == "iris" and detail["input_key"] == "incoming/iris.csv"
    assert detail["test_mse"] == report["test_mse"]
    assert detail["baseline_test_mse"] == report["baseline_test_mse"]
    assert detail["rows"] == 150 and detail["iterations"] == 100
    assert detail["latest_moved"] is True and detail["promoted"] is True
    assert detail["report_key"] == f"{outcome['prefix']}report.json"
    assert detail["page_key"] == "models/iris/index.html" and detail["failure_key"] is None
    assert detail["cost"] == report["cost"] and detail["cost"]["usd"] > 0


def test_a_redelivery_puts_no_second_event(s3, bus, iris_bytes):
    handle(s3, "incoming/iris.csv", iris_bytes)
    again = handle(s3, "incoming/iris.csv")

    assert again["duplicate"] is True
    assert len(bus()) == 1


def test_the_event_is_claimed_once_whichever_delivery_comes_first(s3, bus):
    completion = Completion.from_env(ENV, events=handler.events_client)
    detail = dict.fromkeys(DETAIL_FIELDS)

    first = completion.announce(s3, BUCKET, "models/a/run/event.json", detail)
    second = completion.announce(s3, BUCKET, "models/a/run/event.json", detail)

    assert (first, second) == (True, None)
    assert len(bus()) == 1


def test_a_delivery_that_published_but_did_not_announce_is_completed_by_a_redelivery(
    s3, bus, iris_bytes, monkeypatch
):
    with monkeypatch.context() as patched:
        # The first delivery stops after report.json (a timeout, say) and before the put.
        patched.setattr(Completion, "announce", lambda *args, **kwargs: None)
        handle(s3, "incoming/iris.csv", iris_bytes)
    assert bus() == []

    handle(s3, "incoming/iris.csv")

    assert len(bus()) == 1


def test_a_failed_run_puts_an_event_with_its_error(s3, bus, iris_bytes):
    outcome = handle(s3, "incoming/bad.csv", with_bad_cell(iris_bytes, 3))

    (event,) = bus()
    detail = event["detail"]
    assert detail["status"] == "failed" and detail["error_code"] == outcome["code"]
    assert detail["failure_key"] == outcome["failure_key"] and detail["report_key"] is None
    assert detail["test_mse"] is None and detail["cost"]["billed_seconds"] > 0


def test_a_diverged_run_puts_an_event_with_its_scores_of_the_baseline(s3, bus, iris_bytes):
    outcome = handle(s3, "incoming/iris.csv", iris_bytes, env={"LINREG_LOSS": "sum"})

    (event,) = bus()
    assert outcome["status"] == "diverged"
    assert event["detail"]["status"] == "diverged" and event["detail"]["error_code"] == "diverged"
    assert event["detail"]["baseline_test_mse"] == pytest.approx(0.1312, abs=0.001)


def test_a_run_with_an_unusable_name_puts_an_event(s3, bus, iris_bytes):
    outcome = handle(s3, "incoming/a/../b.csv", iris_bytes)

    (event,) = bus()
    assert event["detail"]["error_code"] == "bad_key" == outcome["code"]
    assert event["detail"]["page_key"] is None


class RefusingEvents:
    """EventBridge answering 200 with the entry refused, as PutEvents does."""

    def put_events(self, *, Entries):
        refused = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        return {"FailedEntryCount": 1, "Entries": [refused for _ in Entries]}


class FailingEvents:
    def put_events(self, *, Entries):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "PutEvents")


@pytest.mark.parametrize("client", [RefusingEvents, FailingEvents])
def test_an_event_not_taken_does_not_fail_the_run_and_is_counted(
    s3, iris_bytes, client, monkeypatch, capsys
):
    monkeypatch.setattr(handler, "events_client", client)
    monkeypatch.setattr(handler.logger.registered_handler, "stream", sys.stdout)
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    outcomes = handler.process_event(
        event_for("incoming/iris.csv"), s3=s3, env=ENV, deadline=handler.Deadline()
    )
    handler.publish_metrics(outcomes)

    (outcome,) = outcomes
    assert outcome.status == "succeeded" and outcome.event_sent is False
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    emf = next(line for line in lines if "_aws" in line)
    assert emf["EventsNotSent"] == [1.0] and emf["RunsSucceeded"] == [1.0]
    assert any(line.get("message") == "completion event not sent" for line in lines)


def test_no_bus_no_event(s3, bus, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})

    assert outcome["status"] == "succeeded" and "event_sent" not in outcome
    assert bus() == []


def test_a_distributed_run_puts_one_event_with_its_summed_cost(s3, bus):
    from test_scale_out import execute, hand_over, scale_out_env

    env = {**ENV, **scale_out_env(LINREG_PART_BYTES=str(1 << 20))}
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=iris_like(100_000))
    _, run = hand_over(s3, "incoming/big.csv", env)

    outcome = execute(s3, run, env)

    (event,) = bus()
    cost = event["detail"]["cost"]
    parts = read_json(s3, f"{outcome['prefix']}report.json")["execution"]["parts"]
    assert parts > 1 and event["detail"]["status"] == "succeeded"
    assert cost["requests"] == parts + 2
    assert cost["state_transitions"] == 5 + 2 * parts


def test_the_sample_event_has_the_documented_detail():
    sample = json.loads(SAMPLE.read_text())
    assert sample["source"] == "linreg" and sample["detail-type"] == "Run Finished"
    assert list(sample["detail"]) == list(DETAIL_FIELDS)


def test_the_reference_documents_every_detail_field():
    section = REFERENCE.read_text().split("### The completion event", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE)
    documented = [name for row in rows for name in re.findall(r"`([a-z_0-9]+)`", row)]
    assert documented == list(DETAIL_FIELDS)


def test_the_sample_is_what_a_run_puts(s3, bus, iris_bytes):
    handle(s3, "incoming/iris.csv", iris_bytes)
    (event,) = bus()
    sample = json.loads(Path(SAMPLE).read_text())
    # EventBridge's envelope (moto leaves out the account).
    envelope = {"version", "id", "detail-type", "source", "account", "time", "region"}
    assert set(sample) == envelope | {"resources", "detail"} >= set(event)
    assert {key: type(value) for key, value in sample["detail"].items() if value is not None} == {
        key: type(value) for key, value in event["detail"].items() if value is not None
    }


def test_a_name_whose_event_claim_would_pass_s3s_key_limit_is_refused():
    # The failure record's key fits in 1,024 bytes; its claim's, 6 bytes longer, does not.
    layout = Layout(failures="f" * 300 + "/")
    name = "n" * 685
    assert len(layout.failure_key(name, "x" * RUN_ID_LENGTH)) <= MAX_KEY_BYTES

    problem = layout.name_problem(name, key=f"incoming/{name}.csv")

    assert problem is not None and "(1,027 characters)" in problem
