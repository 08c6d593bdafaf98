"""linreg.deadline: when a run must stop, and the error it stops with."""

import time

import pytest

from linreg.deadline import MARGIN_SECONDS, Deadline, training_seconds
from linreg.errors import InputError, RunStopped


def test_a_run_past_its_deadline_stops_with_timeout_and_how_far_it_got():
    with pytest.raises(RunStopped) as stopped:
        Deadline(time.monotonic() - 1).check("parsing", rows_read=1200)
    assert stopped.value.code == "timeout"
    assert stopped.value.details == {"stage": "parsing", "rows_read": 1200}
    assert "rows read 1,200" in stopped.value.message


def test_a_timeout_is_not_taken_for_the_users_input_error():
    with pytest.raises(RunStopped) as stopped:
        Deadline(time.monotonic() - 1).check("training")
    assert not isinstance(stopped.value, InputError)


def test_work_that_cannot_fit_is_refused_before_it_starts():
    with pytest.raises(RunStopped) as refused:
        Deadline(time.monotonic() + 5).expect(60, "training")
    assert refused.value.details["stage"] == "estimate"


def test_a_run_without_a_deadline_never_stops():
    Deadline().check("training", iterations_run=10**9)


def test_the_margin_kept_back_is_bounded():
    least, most = MARGIN_SECONDS
    assert Deadline.for_remaining(900).seconds_left() == pytest.approx(900 - most, abs=0.5)
    assert Deadline.for_remaining(2).seconds_left() == pytest.approx(2 - least, abs=0.5)


def test_the_tutorial_engine_is_estimated_per_row_and_feature():
    statistics = training_seconds(engine="statistics", iterations=100, rows=10**6, n_features=5)
    tutorial = training_seconds(engine="tutorial", iterations=100, rows=10**6, n_features=5)
    assert tutorial > statistics
