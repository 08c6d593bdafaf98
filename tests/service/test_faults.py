"""S3 failing at each read and write of a run: transient errors raise (Lambda retries) and
the retry completes the run; access denied to the input (its HEAD or its GET) leaves a
failure record. After any of them, latest.json never points at a run with missing files.
S3 failing while the model's page is rewritten leaves the run as it is: the next run
rewrites the page."""

import json
import threading
from collections import Counter

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from helpers import BUCKET, ROOT, keys, run_keys
from linreg import handler
from linreg.contract import LOSS_HISTORY_FILE, REPORT_FILE, RUN_FILES

ENV = {"LINREG_ITERATIONS": "5"}
# An iris run of 100 iterations: its whole curve sits in report.json.
IRIS_RUN_FILES = {*RUN_FILES, REPORT_FILE} - {LOSS_HISTORY_FILE}


def client_error(code: str, status: int, operation: str) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


ERRORS = {
    "throttled": lambda op: client_error("SlowDown", 503, op),
    "internal_error": lambda op: client_error("InternalError", 500, op),
    "access_denied": lambda op: client_error("AccessDenied", 403, op),
    "connection_reset": lambda op: ConnectionClosedError(endpoint_url="https://s3.example"),
}

# Every S3 call a fresh successful run makes, in order: which operation, which call of it.
# Calls a comment says are made at once come in any order among themselves.
CALLS = [
    ("head_object", 1),  # describe the upload
    ("get_object", 1),  # this run's report and failure record, if any, and the upload's
    ("get_object", 2),  # bytes: at once
    ("get_object", 3),
    ("put_object", 1),  # params.json, params.nd, model.sql, loss.png, report.html and the
    ("put_object", 2),  # current latest.json (get_object #4), at once
    ("put_object", 3),
    ("put_object", 4),
    ("put_object", 5),
    ("get_object", 4),
    ("put_object", 6),  # report.json, conditional
    ("put_object", 7),  # latest.json, compare-and-swap
]
# Then the model's page: its ETag, the run's report (which lists the run's files, so no
# request asks whether report.html exists; the listings of run folders and failure records
# are not counted here), and the page.
PAGE_CALLS = [
    ("head_object", 2),
    ("get_object", 5),
    ("put_object", 8),
]
PAGE_KEY = "models/iris/index.html"


class FaultyS3:
    """A real (moto) client that counts its calls and makes the ``nth`` call of
    ``operation`` raise ``error`` instead."""

    def __init__(self, client, operation: str | None = None, nth: int = 0, error=None) -> None:
        self._client, self._operation, self._nth, self._error = client, operation, nth, error
        self.calls = Counter()
        self.failed_key: str | None = None  # the key of the call made to fail
        self._lock = threading.Lock()  # the handler makes some calls from several threads

    def __getattr__(self, name: str):
        method = getattr(self._client, name)
        if not name.endswith("_object"):
            return method

        def call(**kwargs):
            with self._lock:
                self.calls[name] += 1
                failing = name == self._operation and self.calls[name] == self._nth
            if failing:
                self.failed_key = kwargs.get("Key")
                raise self._error
            return method(**kwargs)

        return call


def upload_event(s3, iris_bytes) -> dict:
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    event = json.loads((ROOT / "events" / "s3-put.json").read_text())
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    return event


def assert_latest_points_at_complete_runs(s3) -> None:
    for key in keys(s3, "models/"):
        if key.endswith("latest.json"):
            pointer = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            files = {k.rsplit("/", 1)[1] for k in keys(s3, pointer["prefix"])}
            assert files == IRIS_RUN_FILES


def test_the_call_list_is_every_call_of_a_real_run(s3, iris_bytes):
    spy = FaultyS3(s3)
    handler.handle_event(upload_event(s3, iris_bytes), s3=spy, env=ENV)
    assert spy.calls == Counter(operation for operation, _ in CALLS + PAGE_CALLS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ERRORS)
@pytest.mark.parametrize(("operation", "nth"), CALLS, ids=[f"{op}#{n}" for op, n in CALLS])
def test_failure_at_any_call_raises_or_records_and_the_retry_completes(
    s3, iris_bytes, operation, nth, kind
):
    event = upload_event(s3, iris_bytes)
    faulty = FaultyS3(s3, operation, nth, ERRORS[kind](operation))
    try:
        outcomes = handler.handle_event(event, s3=faulty, env=ENV)
    except (ClientError, ConnectionClosedError):
        outcomes = None

    # The get_object calls made at once come in any order: which one failed is known after.
    if kind == "access_denied" and faulty.failed_key == "incoming/iris.csv":
        # The function may not read this upload: retrying cannot help, so record it.
        (outcome,) = outcomes
        assert outcome["code"] == "input_unreadable"
        assert keys(s3, "failures/") == [outcome["failure_key"]]
        assert run_keys(s3) == []
        return
    assert outcomes is None, "a transient error must raise, so that Lambda retries"
    assert_latest_points_at_complete_runs(s3)

    (retry,) = handler.handle_event(event, s3=s3, env=ENV)
    assert retry["status"] == "succeeded"
    assert {k.rsplit("/", 1)[1] for k in keys(s3, retry["prefix"])} == IRIS_RUN_FILES
    assert keys(s3, "failures/") == []
    assert_latest_points_at_complete_runs(s3)
    # Even when the first delivery published the run but failed before moving latest.json.
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key="models/iris/latest.json")["Body"].read())
    assert latest["run_id"] == retry["run_id"]


@pytest.mark.parametrize("kind", ERRORS)
@pytest.mark.parametrize(
    ("operation", "nth"), PAGE_CALLS, ids=[f"{op}#{n}" for op, n in PAGE_CALLS]
)
@pytest.mark.slow
def test_failure_while_writing_the_page_keeps_the_run_and_the_next_run_writes_it(
    s3, iris_bytes, operation, nth, kind
):
    event = upload_event(s3, iris_bytes)
    faulty = FaultyS3(s3, operation, nth, ERRORS[kind](operation))

    (outcome,) = handler.handle_event(event, s3=faulty, env=ENV)

    assert (outcome["status"], outcome["page_written"]) == ("succeeded", False)
    assert outcome["latest_moved"] and PAGE_KEY not in keys(s3)
    # The model's next run: the same file with another seed.
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes, Metadata={"seed": "1"})
    (following,) = handler.handle_event(event, s3=s3, env=ENV)
    page = s3.get_object(Bucket=BUCKET, Key=PAGE_KEY)["Body"].read().decode()
    assert outcome["run_id"] in page and following["run_id"] in page
