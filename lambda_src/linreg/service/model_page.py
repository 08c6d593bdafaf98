"""models/<name>/index.html: a model's runs on one page, rewritten after each of its runs.

The page lists the newest ``PAGE_RUNS`` runs, newest first, each linked to its report (a
failed or diverged run to its failure record), with a chart of their test MSE. It is built
from what the bucket holds, never from what one run remembers, so it only ever lists
complete runs: a run folder without report.json is still being written, and is left out.

Runs of one model finish concurrently, so the page is written by compare-and-swap on its
ETag, read *before* the runs are listed. A write that succeeds therefore replaced exactly
the version its writer saw before listing, and the last writer's list holds every run
that was complete when the page it replaced was written, its own and every earlier
writer's included. A writer that loses the race reads the ETag and lists again. After two
lost races its run is on the page anyway (if among the newest): the write that beat it the
second time was made by a writer that read the ETag, and listed, after this one's first
read, when this run was complete. So a run is left off only when its writer fails (an S3
error, or giving up), and then only until the next run of the model: a page that misses a
run that finished at the same moment is corrected by the next publish. The caller (runs)
makes sure that a page write never fails a run.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from linreg.outputs import figures
from linreg.outputs.report_html import MISSING, cell, page, png_image, section, text
from linreg.service import published, storage
from linreg.service.layout import Layout

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Runs on a page: enough history to see a trend, and a page that stays small and quick to
# rebuild (each is a report read). `linreg runs` lists them all.
PAGE_RUNS = 50

_CSS = """
main { max-width: 1100px; }
.scroll { overflow-x: auto; }
table.runs td { white-space: nowrap; padding: 4px 8px; }
table.runs thead th { white-space: normal; vertical-align: bottom; padding: 4px 8px; }
table.runs td code { word-break: normal; }
table.runs tbody tr:nth-child(even) { background: #fafafa; }
"""


def publish_page(s3: S3Client, bucket: str, layout: Layout, name: str) -> bool:
    """Rewrite the model's page from the runs complete now; ``False`` when it gave up after
    losing every race (the model's next run rewrites it)."""
    key = layout.page_key(name)

    def next_version(attempt: int) -> tuple[bytes, str | None]:
        # Before listing: see the module's docstring for why this order keeps it correct.
        seen = storage.etag(s3, bucket, key)
        listing = published.read_runs(
            s3, bucket, layout.model_folder(name), layout.failure_folder(name), limit=PAGE_RUNS
        )
        return render(name, with_links(listing.runs, relative_to(key)), older=listing.older), seen

    try:
        return storage.swap(s3, bucket, key, next_version)
    except storage.WriteConflict:
        return False


def relative_to(page_key: str) -> Callable[[dict], str]:
    """Links from the page at ``page_key`` to each run's file: relative, so the page works
    from the bucket, a website endpoint or a synced copy alike."""
    folder = posixpath.dirname(page_key) or "."
    return lambda run: quote(posixpath.relpath(run["key"], folder))


def with_links(runs: Sequence[dict], link: Callable[[dict], str]) -> list[dict]:
    """``runs`` with a ``link`` each, made by ``link`` (relative, or presigned)."""
    return [{**run, "link": link(run)} for run in runs]


def render(name: str, runs: Sequence[Mapping], *, older: int = 0) -> bytes:
    """The page for ``runs`` (newest first, each with a ``link``): pure, no S3. ``older``:
    how many older run folders and records were not read."""
    title = f"linreg model: {name}"
    return page(
        title,
        [
            f"<h1>{escape(title)}</h1>",
            f'<p class="sub">{_summary(runs, older)}</p>',
            _chart(runs),
            section("Runs", _table(runs)),
        ],
        css=_CSS,
    )


def _summary(runs: Sequence[Mapping], older: int) -> str:
    succeeded = sum(run.get("status") == "succeeded" for run in runs)
    counts = f"{succeeded} succeeded, {len(runs) - succeeded} failed or diverged"
    if not older:
        return escape(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, newest first: {counts}.")
    return escape(
        f"The newest {len(runs)} runs: {counts}. {older} older run folders and failure "
        "records are not shown; linreg runs lists every run."
    )


def _chart(runs: Sequence[Mapping]) -> str:
    shown = [run for run in reversed(runs) if isinstance(run.get("test_mse"), int | float)]
    if not shown:
        return ""
    times = [_time(run, "%Y-%m-%d %H:%M") for run in shown]
    png = figures.runs_plot(
        times,
        [run["test_mse"] for run in shown],
        [run.get("baseline_test_mse") for run in shown],
    )
    alt = (
        f"Test MSE of the {len(shown)} succeeded runs shown, oldest to newest, from "
        f"{shown[0]['test_mse']:.4g} to {shown[-1]['test_mse']:.4g}, with each run's "
        "closed-form baseline dashed"
    )
    return section("Test MSE per run", png_image(png, alt))


def _table(runs: Sequence[Mapping]) -> str:
    if not runs:
        return '<p class="none">No complete runs yet.</p>'
    head = "".join(
        f"<th>{label}</th>"
        for label in (
            "upload time (UTC)",
            "status",
            "test MSE",
            "baseline test MSE",
            "test R²",
            "preset",
            "iterations",
            "promoted",
            "cost (USD)",
            "run",
        )
    )
    rows = "".join(_row(run) for run in runs)
    return (
        f'<div class="scroll"><table class="runs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>\n"
        "<p>Each run links to its report; a failed or diverged run to its failure record. "
        "Test MSE is in the target's units squared; the baseline is the closed-form "
        "least-squares fit on the same split. A run not promoted is complete, but the "
        "promotion rule kept latest.json where it was (hover for why); the cost is an "
        "estimate from list prices.</p>"
    )


def _row(run: Mapping) -> str:
    status = text(run.get("status"))
    if run.get("error"):
        status += f" <code>[{text(run['error'])}]</code>"
    link = f'<a href="{escape(run["link"])}"><code>{text(run.get("run_id"))}</code></a>'
    return (
        f"<tr><td>{escape(_time(run, '%Y-%m-%d %H:%M:%S'))}</td><td>{status}</td>"
        f"{cell(run.get('test_mse'))}{cell(run.get('baseline_test_mse'))}"
        f"{cell(run.get('test_r2'))}<td>{text(run.get('preset'))}</td>"
        f"{cell(run.get('iterations'))}{_promoted(run)}{_usd(run.get('usd'))}"
        f"<td>{link}</td></tr>"
    )


def _promoted(run: Mapping) -> str:
    """yes or no, with the rule's reason on hover; a dash for a failed run or one published
    before promotion rules."""
    promoted = run.get("promoted")
    if not isinstance(promoted, bool):
        return f"<td>{MISSING}</td>"
    reason = escape(str(run.get("promotion") or ""), quote=True)
    return f'<td title="{reason}">{"yes" if promoted else "no"}</td>'


def _usd(usd: object) -> str:
    if not isinstance(usd, int | float) or isinstance(usd, bool):
        return f'<td class="num">{MISSING}</td>'
    return f'<td class="num">{usd:.6f}</td>'


def _time(run: Mapping, form: str) -> str:
    moment = run.get("time")
    return moment.strftime(form) if moment is not None else MISSING
