"""The promotion rule, through the handler on moto: when latest.json moves to a new run,
what report.json and the model's page say, and `linreg promote` past the rule."""

import json

import pytest

from helpers import BUCKET, event_for, read_json
from linreg import handler
from linreg.cli import main
from linreg.contract import PROMOTION_ENV
from linreg.promotion import Promotion


def train(s3, body: bytes, rule: str | None, **metadata: str) -> dict:
    """Upload a new version of incoming/iris.csv (``metadata``: its settings) and run it."""
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=body, Metadata=metadata)
    env = {PROMOTION_ENV: rule} if rule else {}
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    assert outcome["status"] == "succeeded", outcome
    return outcome


def latest_run(s3) -> str:
    return read_json(s3, "models/iris/latest.json")["run_id"]


def report_of(s3, outcome: dict) -> dict:
    return read_json(s3, outcome["prefix"] + "report.json")


def test_newest_moves_latest_to_every_new_run(s3, iris_bytes):
    train(s3, iris_bytes, None)
    worse = train(s3, iris_bytes, None, iterations="1")

    assert latest_run(s3) == worse["run_id"]
    assert report_of(s3, worse)["promotion"] == {"rule": "newest", "reason": "the newest run"}


def test_better_refuses_a_run_worse_than_latest_and_says_why(s3, iris_bytes):
    good = train(s3, iris_bytes, "better")
    worse = train(s3, iris_bytes, "better", iterations="1")

    assert latest_run(s3) == good["run_id"]
    assert worse["latest_moved"] is False
    report = report_of(s3, worse)
    assert report["promoted"] is False
    assert "worse than the latest run" in report["promotion"]["reason"]
    assert good["run_id"] in report["promotion"]["reason"]


def test_better_moves_latest_to_a_run_no_worse(s3, iris_bytes):
    train(s3, iris_bytes, "better", iterations="1")
    good = train(s3, iris_bytes, "better")

    assert latest_run(s3) == good["run_id"] and good["latest_moved"] is True
    assert report_of(s3, good)["promoted"] is True


def test_a_redelivery_of_a_refused_run_leaves_latest_alone(s3, iris_bytes):
    good = train(s3, iris_bytes, "better")
    train(s3, iris_bytes, "better", iterations="1")

    (again,) = handler.handle_event(
        event_for("incoming/iris.csv"), s3=s3, env={PROMOTION_ENV: "better"}
    )

    assert again["duplicate"] is True and again["latest_moved"] is False
    assert latest_run(s3) == good["run_id"]


def test_near_optimum_refuses_a_run_far_from_its_baseline(s3, iris_bytes):
    # The tutorial's 100 iterations end at a test MSE of 0.42 against the optimum's 0.13.
    outcome = train(s3, iris_bytes, "near-optimum:5")

    report = report_of(s3, outcome)
    assert report["promoted"] is False and outcome["latest_moved"] is False
    assert "not within 5%" in report["promotion"]["reason"]
    with pytest.raises(Exception, match="NoSuchKey"):
        s3.get_object(Bucket=BUCKET, Key="models/iris/latest.json")


def test_near_optimum_promotes_a_converged_run(s3, iris_bytes):
    outcome = train(s3, iris_bytes, "near-optimum:5", preset="converged")

    assert report_of(s3, outcome)["promoted"] is True
    assert latest_run(s3) == outcome["run_id"]


def test_the_models_page_shows_a_run_not_promoted(s3, iris_bytes):
    train(s3, iris_bytes, "better")
    train(s3, iris_bytes, "better", iterations="1")

    page = s3.get_object(Bucket=BUCKET, Key="models/iris/index.html")["Body"].read().decode()
    assert "<th>promoted</th>" in page
    assert "worse than the latest run" in page and ">no</td>" in page and ">yes</td>" in page


def test_linreg_promote_moves_latest_past_the_rule_and_says_what_it_replaced(
    s3, iris_bytes, capsys
):
    good = train(s3, iris_bytes, "better")
    worse = train(s3, iris_bytes, "better", iterations="1")

    code = main(["promote", f"s3://{BUCKET}/{worse['prefix']}"])

    assert code == 0 and latest_run(s3) == worse["run_id"]
    out = capsys.readouterr().out
    assert f"now points at {worse['run_id']}" in out and f"pointed at {good['run_id']}" in out


def test_linreg_promote_refuses_a_folder_that_is_not_a_complete_run(s3, iris_bytes, capsys):
    train(s3, iris_bytes, None)

    code = main(["promote", f"s3://{BUCKET}/models/iris/20260101T000000Z-000000000000"])

    assert code == 2 and "[run_not_found]" in capsys.readouterr().err


def test_linreg_promote_refuses_a_model_folder_instead_of_a_run(s3, capsys):
    assert main(["promote", f"s3://{BUCKET}/models/iris"]) == 2
    assert "[bad_model]" in capsys.readouterr().err


REPORT = {"test_mse": 0.2, "baseline_test_mse": 0.1, "dataset": "iris"}


def test_better_lets_newest_win_against_a_run_of_another_dataset_spec():
    current = {"run_id": "r", "test_mse": 0.01, "dataset": "diabetes"}
    assert Promotion.parse("better").verdict(REPORT, current).promoted is True


def test_better_promotes_a_models_first_run():
    assert Promotion.parse("better").verdict(REPORT, None).promoted is True


def test_near_optimum_accepts_a_run_exactly_at_its_bound():
    assert Promotion.parse("near-optimum:100").verdict(REPORT, None).promoted is True
    assert Promotion.parse("near-optimum:99").verdict(REPORT, None).promoted is False


@pytest.mark.parametrize("text", ["best", "near-optimum", "near-optimum:-1", "near-optimum:x"])
def test_an_unknown_rule_is_refused(text):
    with pytest.raises(ValueError, match="promotion|near-optimum"):
        Promotion.parse(text)


def test_a_pointer_written_before_pointers_named_the_dataset_is_compared_by_its_report(
    s3, iris_bytes
):
    good = train(s3, iris_bytes, "better")
    pointer = read_json(s3, "models/iris/latest.json")
    del pointer["dataset"]
    s3.put_object(Bucket=BUCKET, Key="models/iris/latest.json", Body=json.dumps(pointer))

    train(s3, iris_bytes, "better", iterations="1")

    assert latest_run(s3) == good["run_id"]
