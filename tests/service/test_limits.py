"""Lambda's time limit and the operator's limits, through the handler: a run that cannot
finish ends with a failure record and a normal return, before Lambda would kill it, and a
redelivery of it finds the record instead of running again."""

import types

import pytest

from helpers import BUCKET, event_for, iris_like, keys, read_json, run_keys
from linreg import deadline, handler

LONG_TRAINING = {"LINREG_ITERATIONS": "100000"}


class Clock:
    """``time.monotonic`` for linreg.deadline: each reading is ``step`` seconds later."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1000.0, step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def context(seconds_left: float) -> object:
    """A Lambda context with ``seconds_left`` of the invocation left."""
    return types.SimpleNamespace(
        aws_request_id="req-1", get_remaining_time_in_millis=lambda: int(seconds_left * 1000)
    )


def invoke(s3, key: str, *, seconds_left: float, env: dict | None = None) -> dict:
    event = event_for(key)
    (outcome,) = handler.handle_event(
        event, s3=s3, env=env or {}, deadline=handler.deadline_of(context(seconds_left))
    )
    return outcome


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Time that passes 10 ms at every look at it: a run's deadline comes predictably."""
    clock = Clock(step=0.01)
    monkeypatch.setattr(deadline, "time", clock)
    return clock


def assert_recorded_without_a_model(s3, outcome: dict, code: str) -> dict:
    assert (outcome["status"], outcome["code"]) == ("failed", code)
    assert run_keys(s3) == []
    return read_json(s3, outcome["failure_key"])


def test_training_that_runs_out_of_time_records_how_far_it_got(s3, iris_bytes, clock):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    outcome = invoke(s3, "incoming/iris.csv", seconds_left=30, env={"LINREG_ITERATIONS": "5000"})

    record = assert_recorded_without_a_model(s3, outcome, "timeout")
    details = record["error"]["details"]
    assert details["stage"] == "training" and 0 < details["iterations_run"] < 5000


def test_parsing_that_runs_out_of_time_records_rows_and_bytes_read(s3, monkeypatch):
    clock = Clock(step=8.0)  # the deadline passes after a couple of blocks
    monkeypatch.setattr(deadline, "time", clock)
    data = iris_like(200_000)
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=data)

    outcome = invoke(s3, "incoming/big.csv", seconds_left=30)

    details = assert_recorded_without_a_model(s3, outcome, "timeout")["error"]["details"]
    assert details["stage"] == "reading and parsing"
    assert 0 < details["rows_read"] < 200_000 and 0 < details["bytes_read"] <= len(data)


def test_a_run_that_cannot_fit_is_refused_before_any_work(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    outcome = invoke(s3, "incoming/iris.csv", seconds_left=3, env=LONG_TRAINING)

    details = assert_recorded_without_a_model(s3, outcome, "timeout")["error"]["details"]
    assert details["stage"] == "estimate"


@pytest.mark.slow
def test_the_tutorial_engine_on_many_rows_is_refused_before_training(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/big.csv", Body=iris_like(200_000))
    env = {**LONG_TRAINING, "LINREG_ENGINE": "tutorial"}

    outcome = invoke(s3, "incoming/big.csv", seconds_left=60, env=env)

    record = assert_recorded_without_a_model(s3, outcome, "timeout")
    assert record["error"]["details"]["stage"] == "estimate"
    assert "tutorial engine on 140" in record["error"]["message"]


def test_a_run_out_of_time_is_not_run_again_when_redelivered(s3, iris_bytes, clock):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    env = {"LINREG_ITERATIONS": "5000"}
    first = invoke(s3, "incoming/iris.csv", seconds_left=30, env=env)

    again = invoke(s3, "incoming/iris.csv", seconds_left=30, env=env)

    assert again["duplicate"] and again["failure_key"] == first["failure_key"]
    assert keys(s3, "failures/") == [first["failure_key"]]


def test_with_less_time_left_than_the_margin_the_record_is_written_at_once(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    outcome = invoke(s3, "incoming/iris.csv", seconds_left=0.5)

    assert_recorded_without_a_model(s3, outcome, "timeout")


@pytest.mark.slow
def test_without_a_lambda_context_there_is_no_deadline(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=LONG_TRAINING)

    assert outcome["status"] == "succeeded"


# --- the operator's limits --------------------------------------------------------------------


def test_iterations_above_the_deployments_limit_are_refused_naming_it(s3, iris_bytes):
    s3.put_object(
        Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes, Metadata={"iterations": "200000"}
    )

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})

    assert assert_recorded_without_a_model(s3, outcome, "invalid_hyperparameters")
    assert "LINREG_MAX_ITERATIONS" in outcome["message"] and "100,000" in outcome["message"]


def test_the_operator_may_lower_the_iteration_limit(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    env = {"LINREG_MAX_ITERATIONS": "50"}

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)

    assert outcome["code"] == "invalid_hyperparameters" and "limit of 50" in outcome["message"]


@pytest.mark.slow
def test_upload_metadata_may_set_only_the_settings_the_operator_allows(s3, iris_bytes):
    s3.put_object(
        Bucket=BUCKET,
        Key="incoming/iris.csv",
        Body=iris_bytes,
        Metadata={"preset": "converged", "learning-rate": "5"},
    )
    env = {"LINREG_UPLOAD_SETTINGS": "preset,iterations"}

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)

    assert outcome["code"] == "invalid_hyperparameters"
    assert "learning-rate" in outcome["message"] and "LINREG_UPLOAD_SETTINGS" in outcome["message"]


def test_allowed_upload_settings_still_apply(s3, iris_bytes):
    s3.put_object(
        Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes, Metadata={"iterations": "7"}
    )
    env = {"LINREG_UPLOAD_SETTINGS": "iterations"}

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)

    assert read_json(s3, outcome["prefix"] + "report.json")["iterations_run"] == 7


@pytest.mark.parametrize(
    "env",
    [
        {"LINREG_MAX_ITERATIONS": "many"},
        {"LINREG_UPLOAD_SETTINGS": "preset,colour"},
        {"LINREG_MAX_INPUT_BYTES": "-1"},
    ],
)
def test_a_bad_operator_limit_raises_instead_of_failing_each_upload(s3, iris_bytes, env):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    with pytest.raises(ValueError):
        handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)


def test_a_line_over_the_bound_is_recorded_as_malformed_naming_its_line(s3, iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[50] = b"5.0,3.1,1.4,0.2," + b"s" * (3 << 20) + b"\n"  # line 51: 3 MiB of species
    s3.put_object(Bucket=BUCKET, Key="incoming/long.csv", Body=b"".join(lines))

    (outcome,) = handler.handle_event(event_for("incoming/long.csv"), s3=s3, env={})

    error = assert_recorded_without_a_model(s3, outcome, "malformed_csv")["error"]
    assert error["message"] == "line 51 is longer than 1,048,576 bytes"
    assert error["details"]["line"] == 51


@pytest.fixture(scope="module")
def past_the_exact_split() -> bytes:
    """Just over a million rows: split by the hashed split."""
    return iris_like(1_050_000)


@pytest.mark.slow
@pytest.mark.parametrize("test_size", ["1e-7", "0.9999999"])
def test_a_test_size_that_leaves_a_side_too_few_rows_is_recorded_not_retried(
    s3, past_the_exact_split, test_size
):
    s3.put_object(
        Bucket=BUCKET,
        Key="incoming/big.csv",
        Body=past_the_exact_split,
        Metadata={"test-size": test_size},
    )

    outcome = invoke(s3, "incoming/big.csv", seconds_left=300)

    assert_recorded_without_a_model(s3, outcome, "too_few_rows")
