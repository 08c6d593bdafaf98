import io
import json

import numpy as np
import pytest
from PIL import Image

from linreg import pipeline, report
from linreg.config import Hyperparameters
from linreg.dataset import FEATURES


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
    assert set(report["params"]["weights"]) == set(FEATURES)
    assert report["hyperparameters"] == Hyperparameters().as_dict()
    for field in ("test_mse", "train_mse", "baseline_train_mse", "timings", "input", "run_id"):
        assert field in report


def test_succeeded_run_has_five_files(tutorial_run):
    assert set(tutorial_run.files) == {
        "report.json",
        "report.html",
        "params.json",
        "params.nd",
        "loss.png",
    }
    assert tutorial_run.files["loss.png"].startswith(b"\x89PNG\r\n\x1a\n")


def test_params_json_names_each_weight_and_the_bias(tutorial_run):
    params = json.loads(tutorial_run.files["params.json"])
    assert params["features"] == list(FEATURES)
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


def line_pixels(png: bytes) -> int:
    """How many pixels have the curve's colour (matplotlib's first colour, C0)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return int((np.abs(image.astype(int) - (31, 119, 180)).sum(axis=2) < 30).sum())


def test_the_loss_plot_shows_the_curve():
    assert line_pixels(report.loss_plot([3.0 - 0.01 * i for i in range(40)], loss="mean")) > 300


def test_a_redrawn_loss_plot_is_what_a_new_figure_draws():
    curves = [
        ([3.0 - 0.01 * i for i in range(40)], "mean"),
        ([1e4 * 0.9**i for i in range(100)], "sum"),
    ]
    first_drawings = []
    for history, loss in curves:
        report._loss_figure.cache_clear()
        first_drawings.append(report.loss_plot(history, loss=loss))
    redrawn = [report.loss_plot(history, loss=loss) for history, loss in curves * 2]
    assert redrawn == first_drawings * 2


@pytest.mark.parametrize("scale", [1.0, 1e8, 1e-7])
def test_the_title_sits_where_matplotlib_would_place_it(scale):
    history = [scale * 0.9**i for i in range(60)]
    ours = report.loss_plot(history, loss="mean")
    figure = report._LossFigure()
    set_title = figure.axes.set_title
    figure.axes.set_title = lambda title, **_: set_title(title)  # matplotlib's own placement
    assert figure.render(history, "mean") == ours
