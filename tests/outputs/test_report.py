import json
import re

import pytest

from helpers import ROOT
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.payloads import Report
from linreg.spec import IRIS


@pytest.fixture(scope="module")
def tutorial_run(iris_bytes):
    return pipeline.run(iris_bytes, Hyperparameters())


def test_closed_form_baseline_on_iris_matches_the_known_optimum(tutorial_run):
    assert tutorial_run.report["baseline_test_mse"] == pytest.approx(0.1312, abs=0.001)


def test_report_has_every_documented_field(tutorial_run):
    report = tutorial_run.report
    assert report["status"] == "succeeded"
    assert len(report["loss_history"]) == 100
    assert report["rows"] == {"total": 150, "train": 105, "test": 45}
    assert set(report["params"]["weights"]) == set(IRIS.features)
    assert report["hyperparameters"] == Hyperparameters().as_dict()
    for field in ("test_mse", "train_mse", "baseline_train_mse", "timings", "input", "run_id"):
        assert field in report


REFERENCE = ROOT / "docs" / "reference.md"


def documented_report_fields() -> set[str]:
    """The fields docs/reference.md's report.json table promises (a row may name several)."""
    section = REFERENCE.read_text().split("### report.json", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE)
    return {name for row in rows for name in re.findall(r"`([a-z_0-9]+)`", row)}


def test_every_report_field_is_documented_and_every_documented_field_is_written(
    tutorial_run, iris_bytes
):
    # Between them: a succeeded run, a diverged one (error) and a sampled curve.
    diverged = pipeline.run(iris_bytes, Hyperparameters(loss="sum", learning_rate=1.0))
    sampled = pipeline.run(iris_bytes, Hyperparameters(iterations=1500))
    written = set(tutorial_run.report) | set(diverged.report) | set(sampled.report)
    # What publishing adds (service.attempt; tests/service/test_promotion.py).
    published = {"promoted", "promotion", "files"}
    assert written | published == documented_report_fields()


def test_the_report_type_names_every_documented_field():
    assert Report.__required_keys__ | Report.__optional_keys__ == documented_report_fields()


def test_succeeded_run_has_six_files(tutorial_run):
    assert set(tutorial_run.files) == {
        "report.json",
        "report.html",
        "params.json",
        "params.nd",
        "model.sql",
        "loss.png",
    }
    assert tutorial_run.files["loss.png"].startswith(b"\x89PNG\r\n\x1a\n")


def test_params_json_names_each_weight_and_the_bias(tutorial_run):
    params = json.loads(tutorial_run.files["params.json"])
    assert params["features"] == list(IRIS.features)
    assert params["weights"] == tutorial_run.report["params"]["weights"]
    assert params["bias"] == tutorial_run.report["params"]["bias"]
    assert params["versions"]["mxnet"] == "1.9.1"


def test_diverged_run_has_a_report_only_with_no_model_in_it(iris_bytes):
    run = pipeline.run(iris_bytes, Hyperparameters(loss="sum", learning_rate=1.0))
    assert run.status == "diverged"
    assert set(run.files) == {"report.json"}
    report = json.loads(run.files["report.json"])
    assert report["params"] is None and report["test_mse"] is None
    assert report["error"]["code"] == "diverged"
