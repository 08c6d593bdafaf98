"""report.html: a self-contained page made from a real run's report.json and loss.png."""

from __future__ import annotations

import base64
import copy
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from browser import blue_pixels, chromium, keep_for_docs, screenshot
from helpers import IRIS_CSV
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.outputs import report_html
from linreg.spec import IRIS

# Tall enough for the metrics, the three figures and the parameters.
WINDOW = (1000, 2400)


@pytest.fixture(scope="module")
def iris_run() -> pipeline.Result:
    return pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters(), source={"path": "data/iris.csv"})


@pytest.fixture(scope="module")
def diverged_run() -> pipeline.Result:
    # The tutorial's overflow example: report.json only, no params, no loss.png.
    run = pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters(loss="sum", learning_rate=1.0))
    assert run.status == "diverged"
    return run


@pytest.fixture(scope="module")
def page(iris_run: pipeline.Result) -> str:
    return iris_run.files["report.html"].decode("utf-8")


def render(report: dict, figures: report_html.Figures | None = None) -> str:
    return report_html.render(report, figures).decode("utf-8")


def figures(run: pipeline.Result) -> report_html.Figures:
    """The figures a run's report.html embeds, read back from the page."""
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', run.files["report.html"].decode())
    loss, fit, weights = (base64.b64decode(image) for image in images)
    return report_html.Figures(loss=loss, fit=fit, weights=weights)


def edited(report: dict, **changes: object) -> dict:
    """A deep copy of ``report`` with some top-level fields replaced or added."""
    return {**copy.deepcopy(report), **changes}


def test_render_returns_a_utf8_html_document(iris_run):
    raw = report_html.render(iris_run.report)
    assert isinstance(raw, bytes)
    text = raw.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text


def test_page_loads_nothing_from_outside(page):
    assert 'src="http' not in page
    assert "<link" not in page
    assert "<script" not in page
    assert "<style>" in page


def test_loss_plot_is_embedded_as_a_data_uri(iris_run, page):
    encoded = base64.b64encode(iris_run.files["loss.png"]).decode("ascii")
    assert f'src="data:image/png;base64,{encoded}"' in page


def test_loss_plot_has_alt_text(page):
    assert 'alt="Training loss per iteration: 24.2513 → ' in page


def test_title_names_the_input_path_and_the_status(iris_run):
    page = render(edited(iris_run.report, input={"path": "data/iris.csv"}))
    assert "<title>linreg run: data/iris.csv</title>" in page
    assert '<span class="badge ok">succeeded</span>' in page


def test_shows_mses_and_baselines_with_six_significant_digits(iris_run, page):
    report = iris_run.report
    for field in ("test_mse", "train_mse", "baseline_test_mse", "baseline_train_mse"):
        assert f">{report[field]:.6g}<" in page
    assert f"{report['test_mse']:.6g}" == "0.419973"


def test_shows_the_gap_to_the_baseline_as_a_percentage(iris_run, page):
    report = iris_run.report
    gap = (report["test_mse"] / report["baseline_test_mse"] - 1) * 100
    assert f">{gap:+.6g} %<" in page


def test_shows_every_feature_weight_and_the_bias(iris_run, page):
    params = iris_run.report["params"]
    for name in IRIS.features:
        assert f"<code>{name}</code>" in page
        assert f">{params['weights'][name]:.6g}<" in page
    assert f">{params['bias']:.6g}<" in page


def test_settings_list_hyperparameters_split_rows_and_iterations(page):
    for label, value in [
        ("learning_rate", "0.01"),
        ("engine", "statistics"),
        ("split_seed", "1"),
        ("split", "exact"),
        ("rows total", "150"),
        ("rows train", "105"),
        ("rows test", "45"),
        ("iterations_run", "100"),
    ]:
        assert f"<th>{label}</th><td" in page
        assert f">{value}</td>" in page


def test_fields_added_later_show_up_in_the_settings(iris_run):
    report = edited(iris_run.report, stopped="converged", preset="tutorial", future_ratio=1 / 3)
    page = render(report)
    assert "<th>stopped</th><td>converged</td>" in page
    assert "<th>preset</th><td>tutorial</td>" in page
    assert '<th>future_ratio</th><td class="num">0.333333</td>' in page


def test_lists_warnings(iris_run):
    page = render(edited(iris_run.report, warnings=["only one species: setosa"]))
    assert "<li>only one species: setosa</li>" in page


def test_shows_ignored_columns(iris_run):
    page = render(edited(iris_run.report, ignored_columns=["plot_id", "notes"]))
    assert "<td>plot_id, notes</td>" in page


def test_shows_s3_input_details_run_id_and_timings(iris_run):
    source = {
        "bucket": "lab-bucket",
        "key": "incoming/field/iris.csv",
        "etag": "f5a306e1ae53a6dedf289efccbbe541a",
        "version_id": None,
        "last_modified": "2026-11-29T13:57:03+00:00",
        "size": 3855,
    }
    page = render(edited(iris_run.report, input=source, run_id="20261129T135703Z-e8baca509700"))
    assert "<title>linreg run: incoming/field/iris.csv</title>" in page
    for value in ("lab-bucket", "f5a306e1ae53a6dedf289efccbbe541a", "2026-11-29T13:57:03+00:00"):
        assert f"<td>{value}</td>" in page
    assert '<th>size</th><td class="num">3855</td>' in page
    assert "20261129T135703Z-e8baca509700" in page
    timings = iris_run.report["timings"]
    assert f'<th>train_seconds</th><td class="num">{timings["train_seconds"]:.6g}</td>' in page


def test_title_says_local_run_without_an_input(iris_run):
    # pipeline.run called with no source records no input.
    page = render(edited(iris_run.report, input=None))
    assert "<title>linreg run: local run</title>" in page


def test_values_are_escaped(iris_run):
    hostile = "<script>alert(1)</script>"
    report = edited(
        iris_run.report,
        ignored_columns=[hostile],
        input={"key": f"incoming/{hostile}.csv"},
        warnings=['a "quoted" & <b>bold</b> warning'],
    )
    page = render(report)
    assert "<script" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


def test_diverged_report_shows_the_error_and_no_params_table(diverged_run):
    report = diverged_run.report
    page = render(report)
    assert report["params"] is None
    assert '<span class="badge bad">diverged</span>' in page
    assert "<h2>Parameters</h2>" not in page
    assert report["error"]["message"] in page
    assert "<img" not in page


def test_metrics_show_r2_of_the_trained_model_and_of_the_baseline(iris_run, page):
    report = iris_run.report
    for key in ("test_r2", "train_r2", "baseline_test_r2", "baseline_train_r2"):
        assert f"{report[key]:.6g}" in page
    assert f"{report['test_r2'] - report['baseline_test_r2']:+.6g}" in page


def test_parameters_show_closed_form_weights_beside_the_trained_ones(iris_run, page):
    closed_form = iris_run.report["baseline_params"]
    for name, trained in iris_run.report["params"]["weights"].items():
        best = closed_form["weights"][name]
        row = (
            f'<tr><th>weight <code>{name}</code></th><td class="num">{trained:.6g}</td>'
            f'<td class="num">{best:.6g}</td><td class="num">{trained - best:+.6g}</td></tr>'
        )
        assert row in page


def test_every_figure_is_embedded_with_alt_text(iris_run, page):
    assert page.count('<img src="data:image/png;base64,') == 3
    encoded = base64.b64encode(iris_run.files["loss.png"]).decode("ascii")
    assert f'src="data:image/png;base64,{encoded}"' in page
    assert 'alt="Predicted against actual target, and residuals, on test rows"' in page
    assert 'alt="Each weight, trained and closed form"' in page


def test_loss_section_says_the_scale_and_the_reference_line(page):
    assert "Log scale; the dashed line is the closed-form optimum" in page


def test_fit_section_says_all_test_rows_are_shown_for_iris(page):
    assert "<h2>Fit on test rows</h2>" in page
    assert "All 45 test rows are shown." in page


def test_fit_section_says_how_many_rows_were_sampled_and_how(iris_run):
    sample = {"points": 2000, "test_rows": 3000000, "drawn": "lowest_hash", "seed": 7}
    page = render(edited(iris_run.report, fit_sample=sample), figures(iris_run))
    assert "2,000 of 3,000,000 test rows are shown" in page
    assert "split seed 7" in page
    assert "The same file and seed always show the same rows." in page


def test_report_html_of_the_sample_run_stays_small(page):
    # docs/reference.md and the README state its size; three figures as paletted PNGs.
    assert len(page.encode()) < 80_000


def test_missing_metrics_show_as_a_dash(diverged_run):
    page = render(diverged_run.report)
    assert '<th>test MSE</th><td class="num">—</td>' in page


# Headless Chromium: the page renders as a person would see it.


@pytest.fixture(scope="module")
def page_file(page, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_chromium_screenshot_is_a_non_blank_png(page_file):
    image = screenshot(page_file, WINDOW)
    keep_for_docs(image, "report.png")
    assert image.format == "PNG"
    assert image.size == WINDOW
    colours = image.convert("RGB").getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    # A blank or failed page has a handful of colours; text, badges and the plot have hundreds.
    assert len(colours) > 200


@pytest.mark.parametrize("name", ["loss", "fit", "weights"])
def test_chromium_draws_each_figure(iris_run, name, tmp_path):
    png = getattr(figures(iris_run), name)
    alone = tmp_path / f"{name}.html"
    alone.write_bytes(report_html.page(name, [report_html.png_image(png, name)]))
    drawn = blue_pixels(screenshot(alone, (1000, 700)))
    # The figure's own blue, as Chromium draws it (scaled to the page's width if wider).
    assert drawn > 0.5 * blue_pixels(Image.open(io.BytesIO(png))) * min(1, 800 / 900)


def test_chromium_dom_has_the_new_sections(page_file):
    dom = chromium("--dump-dom", page_file.as_uri(), cwd=page_file.parent).stdout.decode()
    for heading in ("Loss", "Fit on test rows", "Parameters"):
        assert f"<h2>{heading}</h2>" in dom
    assert dom.count("<img") == 3


def test_chromium_dom_has_the_metrics(iris_run, page_file):
    dom = chromium("--dump-dom", page_file.as_uri(), cwd=page_file.parent).stdout.decode()
    assert "<h2>Metrics</h2>" in dom
    assert f"{iris_run.report['test_mse']:.6g}" in dom
    assert f"{iris_run.report['baseline_test_mse']:.6g}" in dom


def test_a_fit_that_cannot_be_drawn_says_so(iris_run):
    drawn = figures(iris_run)
    page = render(iris_run.report, report_html.Figures(drawn.loss, None, drawn.weights))
    assert "No figure: these rows' predictions are too large to draw." in page
    assert page.count("<img") == 2
