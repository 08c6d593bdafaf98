"""models/<name>/index.html: a model's runs on one page, rewritten after each run (moto)."""

from __future__ import annotations

import base64
import io
import json
import posixpath
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from browser import blue_pixels, chromium, keep_for_docs, screenshot
from helpers import BUCKET, event_for, keys
from linreg import handler
from linreg.cli import main
from linreg.outputs import figures
from linreg.service import model_page, published
from linreg.service.layout import Layout

ENV = {"LINREG_ITERATIONS": "5"}
PAGE_KEY = "models/iris/index.html"
LAYOUT = Layout()
WINDOW = (1200, 950)
# A row's link: its href and the run id it shows.
LINK = re.compile(r'<a href="([^"]*)"><code>([^<]*)</code></a>')


def run_id(day: int, digest: str = "a") -> str:
    return f"202601{day:02d}T120000Z-{digest * 12}"


def stored_run(
    s3, run_id: str, *, test_mse: float = 0.42, complete: bool = True, files=None
) -> None:
    """A published run of "iris" written directly: report.html, and report.json (which
    makes it complete) unless ``complete`` is false; ``files``: the folder's files as the
    report lists them (a report from before reports listed them has none)."""
    prefix = LAYOUT.run_prefix("iris", run_id)
    s3.put_object(Bucket=BUCKET, Key=prefix + "report.html", Body=b"<!DOCTYPE html>")
    stamp = datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    report = {
        "status": "succeeded",
        "run_id": run_id,
        "test_mse": test_mse,
        "baseline_test_mse": 0.1312,
        "test_r2": 0.31,
        "iterations_run": 100,
        "hyperparameters": {"preset": "tutorial"},
        "input": {"key": "incoming/iris.csv", "last_modified": stamp.isoformat()},
    }
    if files is not None:
        report["files"] = files
    if complete:
        s3.put_object(Bucket=BUCKET, Key=prefix + "report.json", Body=json.dumps(report))


def upload(s3, body: bytes, env: dict = ENV, **metadata: str) -> dict:
    """Upload ``body`` as incoming/iris.csv and run the function on it."""
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=body, Metadata=metadata)
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    return outcome


def stored_page(s3, key: str = PAGE_KEY) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")


def links(page: str) -> list[tuple[str, str]]:
    """(href, run id) of each row, top to bottom."""
    return LINK.findall(page)


def linked_key(href: str, page_key: str = PAGE_KEY) -> str:
    """The bucket key a relative link on the page at ``page_key`` opens."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(page_key), unquote(href)))


# --- what the page lists ------------------------------------------------------------------


def test_a_publish_writes_the_page_listing_its_run(s3, iris_bytes):
    outcome = upload(s3, iris_bytes)

    assert outcome["page_written"] is True
    assert [run for _, run in links(stored_page(s3))] == [outcome["run_id"]]


def test_a_published_report_lists_its_folders_files(s3, iris_bytes):
    outcome = upload(s3, iris_bytes)

    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key=outcome["prefix"] + "report.json")["Body"].read()
    )
    in_folder = [key.removeprefix(outcome["prefix"]) for key in keys(s3, outcome["prefix"])]
    assert report["files"] == sorted(in_folder)


def test_a_row_links_as_its_reports_list_of_files_says_without_asking_s3(s3, monkeypatch):
    # report.html is in the folder, but the report's own list does not name it.
    stored_run(s3, run_id(1), files=["report.json"])
    monkeypatch.setattr(published.storage, "exists", lambda *args: pytest.fail("asked S3"))

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    ((href, _),) = links(stored_page(s3))
    assert linked_key(href).endswith("/report.json")


def test_a_row_of_a_report_without_a_list_of_files_links_to_its_page_if_there(s3):
    stored_run(s3, run_id(1))

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    ((href, _),) = links(stored_page(s3))
    assert linked_key(href).endswith("/report.html")


def test_the_page_lists_runs_newest_first(s3):
    for day in (2, 5, 1, 4):
        stored_run(s3, run_id(day))

    assert model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    assert [run for _, run in links(stored_page(s3))] == [run_id(d) for d in (5, 4, 2, 1)]


def test_each_run_links_to_its_report_relative_to_the_page(s3):
    stored_run(s3, run_id(1))

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    ((href, _),) = links(stored_page(s3))
    assert href == f"{run_id(1)}/report.html"
    assert linked_key(href) in keys(s3)


def test_a_run_still_being_written_is_not_listed(s3):
    stored_run(s3, run_id(1))
    stored_run(s3, run_id(2), complete=False)  # its files are there, report.json is not yet

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    page = stored_page(s3)
    assert [run for _, run in links(page)] == [run_id(1)]
    assert run_id(2) not in page


def test_a_failed_upload_is_listed_with_its_error_code_and_links_to_its_record(s3):
    outcome = upload(s3, b"")

    page = stored_page(s3)
    ((href, run),) = links(page)
    assert run == outcome["run_id"]
    assert "failed <code>[empty_file]</code>" in page
    assert linked_key(href) == outcome["failure_key"]


@pytest.mark.slow
def test_only_the_newest_runs_are_shown_and_the_page_says_how_many_are_not(s3, monkeypatch):
    monkeypatch.setattr(model_page, "PAGE_RUNS", 3)
    for day in range(1, 6):
        stored_run(s3, run_id(day))

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    page = stored_page(s3)
    assert [run for _, run in links(page)] == [run_id(d) for d in (5, 4, 3)]
    assert "2 older run folders and failure records are not shown" in page


def test_a_run_still_being_written_does_not_take_a_place_among_the_newest(s3, monkeypatch):
    monkeypatch.setattr(model_page, "PAGE_RUNS", 2)
    for day in (1, 2, 3):
        stored_run(s3, run_id(day), complete=day != 3)

    model_page.publish_page(s3, BUCKET, LAYOUT, "iris")

    assert [run for _, run in links(stored_page(s3))] == [run_id(2), run_id(1)]


class CountingS3:
    """An S3 client that counts the objects read (GET) through it."""

    def __init__(self, client) -> None:
        self._client, self.reads = client, 0

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        self.reads += 1
        return self._client.get_object(**kwargs)


def test_nested_models_cost_the_page_no_reads(s3):
    stored_run(s3, run_id(1))
    for index in range(25):  # what uploads under incoming/iris/… make beside iris's runs
        s3.put_object(Bucket=BUCKET, Key=f"models/iris/nested{index}/latest.json", Body=b"{}")
    counting = CountingS3(s3)

    model_page.publish_page(counting, BUCKET, LAYOUT, "iris")

    assert counting.reads == 1  # the one run's report.json
    assert [run for _, run in links(stored_page(s3))] == [run_id(1)]


def test_incomplete_run_folders_cannot_make_the_page_read_without_bound(s3, monkeypatch):
    monkeypatch.setattr(model_page, "PAGE_RUNS", 3)
    for day in range(1, 21):
        stored_run(s3, run_id(day), complete=day <= 2)
    counting = CountingS3(s3)

    model_page.publish_page(counting, BUCKET, LAYOUT, "iris")

    assert counting.reads <= published.READ_BOUND * 3
    assert "not shown" in stored_page(s3)


def test_a_quarantined_upload_writes_no_page(s3, iris_bytes):
    key = "incoming/lab/../iris.csv"  # a ".." folder: its name cannot make keys
    s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)

    (outcome,) = handler.handle_event(event_for(key), s3=s3, env=ENV)

    assert (outcome["code"], outcome.get("page_written")) == ("bad_key", None)
    assert [k for k in keys(s3) if k.endswith("index.html")] == []


# --- concurrent publishes -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("page_before", [False, True], ids=["first page", "page replaced"])
def test_two_publishes_at_once_both_end_up_on_the_page(s3, iris_bytes, monkeypatch, page_before):
    # The race forced: the first run's page step lists its runs, then, before it writes,
    # the second run publishes and writes its page. A plain overwrite would leave the first
    # writer's stale list, without the second run. Racing for the first page is settled by
    # If-None-Match; replacing an existing one, by If-Match.
    earlier = [upload(s3, iris_bytes, seed="3")["run_id"]] if page_before else []
    read_runs = published.read_runs
    second: list[dict] = []

    def list_then_let_the_second_run_finish(*args, **kwargs):
        listed = read_runs(*args, **kwargs)
        if not second:
            monkeypatch.setattr(published, "read_runs", read_runs)
            second.append(upload(s3, iris_bytes, seed="2"))
        return listed

    monkeypatch.setattr(published, "read_runs", list_then_let_the_second_run_finish)

    first = upload(s3, iris_bytes)

    assert first["page_written"] and second[0]["page_written"]
    listed = [run for _, run in links(stored_page(s3))]
    assert sorted(listed) == sorted([first["run_id"], second[0]["run_id"], *earlier])


def test_a_page_that_keeps_changing_is_given_up_without_failing_the_run(
    s3, iris_bytes, monkeypatch
):
    # Every compare-and-swap loses: another writer always got there first.
    monkeypatch.setattr(model_page.storage, "etag", lambda *_: '"another-writers"')

    outcome = upload(s3, iris_bytes)

    assert (outcome["status"], outcome["page_written"]) == ("succeeded", False)
    assert outcome["latest_moved"] is True


def test_a_file_that_is_not_a_run_left_in_the_bucket_is_skipped(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="failures/iris/notes.json", Body=b"not JSON")
    s3.put_object(Bucket=BUCKET, Key="failures/iris/list.json", Body=b"[1, 2]")

    outcome = upload(s3, iris_bytes)

    assert (outcome["status"], outcome["page_written"]) == ("succeeded", True)
    assert outcome["run_id"] in stored_page(s3)


# --- rendering ----------------------------------------------------------------------------


def test_rendering_escapes_every_value(s3):
    hostile = '<script>alert("x")</script>'
    run = {
        "run_id": hostile,
        "status": hostile,
        "error": hostile,
        "preset": hostile,
        "link": f'x" onclick="{hostile}',
    }

    page = model_page.render(hostile, [run]).decode("utf-8")

    assert "<script" not in page and 'onclick="' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_relative_links_percent_encode_the_models_name():
    run = {"key": "failures/lab/a b:c#é/20260101T120000Z-aaaaaaaaaaaa.json"}

    href = model_page.relative_to(LAYOUT.page_key("lab/a b:c#é"))(run)

    assert href == "../../../failures/lab/a%20b%3Ac%23%C3%A9/20260101T120000Z-aaaaaaaaaaaa.json"


def test_the_page_is_one_file_without_scripts_or_outside_resources(s3, iris_bytes):
    upload(s3, iris_bytes)

    page = stored_page(s3)

    assert "<script" not in page and "<link" not in page and 'src="http' not in page
    assert 'src="data:image/png;base64,' in page


def test_a_page_of_fifty_runs_stays_small():
    # docs/reference.md states its size.
    runs = [
        {
            "run_id": run_id(1, digest=f"{index:x}"),
            "status": "succeeded",
            "time": datetime(2026, 1, 1, tzinfo=UTC),
            "test_mse": 0.42 - 0.005 * index,
            "baseline_test_mse": 0.1312,
            "test_r2": 0.3 + 0.01 * index,
            "preset": "tutorial",
            "iterations": 100,
            "link": f"{run_id(1)}/report.html",
        }
        for index in range(model_page.PAGE_RUNS)
    ]

    assert len(model_page.render("iris", runs)) < 40_000


def test_the_chart_tells_its_series_apart_without_colour_and_labels_its_axes():
    figure = figures.runs_figure(
        ["2026-01-01 12:00", "2026-01-02 12:00"], [0.42, 0.3], [0.13, None]
    )

    (axes,) = figure.axes
    trained, baseline = axes.get_lines()
    assert (trained.get_linestyle(), trained.get_marker()) == ("-", "o")
    assert (baseline.get_linestyle(), baseline.get_marker()) == ("--", "s")
    assert axes.get_xlabel() == "run (upload time)"
    assert axes.get_ylabel() == "test MSE (target units²)"
    assert [label.get_text() for label in axes.get_legend().get_texts()] == [
        "trained",
        "closed-form baseline",
    ]


# --- linreg runs --html -------------------------------------------------------------------


def test_runs_html_writes_the_page_the_function_keeps(s3, iris_bytes, tmp_path):
    upload(s3, iris_bytes)
    upload(s3, b"")
    out = tmp_path / "index.html"

    assert main(["runs", f"s3://{BUCKET}/models/iris", "--html", str(out)]) == 0

    assert out.read_text(encoding="utf-8") == stored_page(s3)


@pytest.mark.slow
def test_runs_html_with_links_links_each_run_by_a_presigned_url(s3, iris_bytes, tmp_path):
    upload(s3, iris_bytes)
    out = tmp_path / "index.html"

    main(["runs", f"s3://{BUCKET}/models/iris", "--html", str(out), "--links"])

    ((href, _),) = links(out.read_text(encoding="utf-8"))
    assert href.startswith("https://") and "X-Amz-Signature=" in href


# --- headless Chromium --------------------------------------------------------------------


@pytest.fixture
def page_file(s3, iris_bytes, tmp_path) -> Path:
    """A page of five runs (four succeeded, one failed), as the function wrote it, with the
    deployment's default settings."""
    upload(s3, iris_bytes, env={})
    upload(s3, iris_bytes, env={}, iterations="300")
    upload(s3, b"", env={})
    upload(s3, iris_bytes, env={}, preset="converged")
    upload(s3, iris_bytes, env={}, seed="3")
    path = tmp_path / "index.html"
    path.write_text(stored_page(s3), encoding="utf-8")
    return path


@pytest.mark.slow
def test_chromium_screenshot_of_the_page_is_a_non_blank_png(page_file):
    image = screenshot(page_file, WINDOW)
    keep_for_docs(image, "model-page.png")

    assert (image.format, image.size) == ("PNG", WINDOW)
    colours = image.convert("RGB").getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    # A blank or failed page has a handful of colours; text, the table and the chart hundreds.
    assert len(colours) > 200


@pytest.mark.slow
def test_chromium_draws_the_chart(page_file):
    (encoded,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page_file.read_text())
    chart = Image.open(io.BytesIO(base64.b64decode(encoded)))

    drawn = blue_pixels(screenshot(page_file, WINDOW))

    # The chart's own blue (the trained series), as Chromium draws it.
    assert drawn > 0.5 * blue_pixels(chart)


@pytest.mark.slow
def test_chromium_dom_has_the_runs_table_with_a_row_per_run(page_file):
    dom = chromium("--dump-dom", page_file.as_uri(), cwd=page_file.parent).stdout.decode()

    assert '<table class="runs">' in dom
    assert len(links(dom)) == 5
    assert "failed <code>[empty_file]</code>" in dom
