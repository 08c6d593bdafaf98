"""report.html: one run's report.json (and loss.png) as a page a person can read.

The page is a single self-contained file: inline CSS, the plot as a data: URI, no scripts,
so it opens the same from S3, a mail attachment or a local folder with no network.
It reads the report generically: fields added to report.json later still show up (as rows
of the settings table) without a change here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import TypeGuard

# Shown for a value that is missing or null, e.g. a diverged run's MSEs.
MISSING = "—"

# Top-level keys that have a section of their own; every other key goes to the settings table.
_OWN_SECTION = frozenset(
    {
        "status",
        "run_id",
        "test_mse",
        "train_mse",
        "test_r2",
        "train_r2",
        "baseline_test_mse",
        "baseline_train_mse",
        "baseline_test_r2",
        "baseline_train_r2",
        "baseline_params",
        "fit_sample",
        "loss_history",
        "loss_history_iterations",
        "loss_history_file",
        "hyperparameters",
        "params",
        "ignored_columns",
        "warnings",
        "input",
        "timings",
        "cost",
        "error",
    }
)

# Badge colours by status; an unknown status gets the neutral one rather than a made-up class.
_BADGE_CLASS = {"succeeded": "ok", "diverged": "bad", "failed": "bad"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #222; background: #fff; margin: 0; line-height: 1.45; }
main { max-width: 860px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; display: flex; align-items: center; gap: 12px;
  flex-wrap: wrap; word-break: break-all; }
h2 { font-size: 1.1rem; margin: 24px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #e3e3e3; }
.sub { color: #666; margin: 0; font-size: 0.9rem; }
.badge { font-size: 0.8rem; font-weight: 600; padding: 2px 10px; border-radius: 999px;
  border: 1px solid; white-space: nowrap; }
.badge.ok { color: #11632a; background: #e7f6ec; border-color: #9fd5b0; }
.badge.bad { color: #9b1c1c; background: #fdecec; border-color: #f0a8a8; }
.badge.other { color: #444; background: #f1f1f1; border-color: #ccc; }
.error, .warning { border: 1px solid; padding: 10px 14px; border-radius: 6px;
  margin-top: 16px; }
.error { border-color: #f0a8a8; background: #fdecec; color: #7a1616; }
.warning { border-color: #e6c96b; background: #fff8e0; color: #5c4300; }
table { border-collapse: collapse; margin: 4px 0; font-size: 0.95rem; }
th, td { border: 1px solid #ddd; padding: 4px 12px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
thead th { background: #f6f6f6; white-space: nowrap; }
tbody th { font-weight: normal; color: #444; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
/* Key/value tables read down one column: every value starts at the same edge. */
table.kv td.num { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em;
  word-break: break-all; }
ul { margin: 4px 0; padding-left: 22px; }
.none { color: #888; }
"""


@dataclass(frozen=True)
class Figures:
    """A succeeded run's figures, as PNG bytes (``linreg.outputs.figures``)."""

    loss: bytes
    fit: bytes | None  # None when no test row's prediction can be drawn
    weights: bytes


def render(report: Mapping, figures: Figures | None = None) -> bytes:
    """The report as a UTF-8 HTML page, with ``figures`` embedded when given (a diverged
    run has none)."""
    title = f"linreg run: {_input_name(report)}"
    body = [
        _header(report, title),
        _error(report.get("error")),
        _warnings(report.get("warnings")),
        _metrics(report),
        # The curve right after the metrics: together they say whether the run went well.
        _loss(report, figures.loss if figures else None),
        _fit(report.get("fit_sample"), figures.fit if figures else None),
        _params(report, figures.weights if figures else None),
        section("Settings", table(_settings_rows(report))),
        # Full width: S3 keys and ETags are long, and wrapping them makes them hard to copy.
        section("Input", table(_input_rows(report))),
        section("Timings", table(_flat_rows(report.get("timings")))),
        _cost(report.get("cost")),
    ]
    return page(title, body)


def _cost(cost: object) -> str:
    if not isinstance(cost, Mapping):
        return ""
    usd = cost.get("usd")
    dollars = f"${usd:.6f}" if _is_number(usd) else MISSING
    summary = (
        f"<p>About <strong>{dollars}</strong>: {text(cost.get('gb_seconds'))} "
        f"GB-seconds ({text(cost.get('billed_seconds'))} s at {text(cost.get('memory_mb'))} MB, "
        f"{text(cost.get('architecture'))}), {text(cost.get('requests'))} requests and "
        f"{text(cost.get('state_transitions'))} state transitions. An estimate from list "
        "prices; S3 and CloudWatch are not included.</p>"
    )
    return section("Cost", summary + table(_flat_rows(cost.get("prices"))))


def page(title: str, parts: Iterable[str], css: str = "") -> bytes:
    """A self-contained UTF-8 page: ``parts`` (HTML, empty ones skipped) under ``title``, in
    the style every page of a run or a model shares; ``css`` adds rules of the page's own."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n"
        "<body>\n<main>\n"
        + "\n".join(part for part in parts if part)
        + "\n</main>\n</body>\n</html>\n"
    ).encode("utf-8")


def png_image(png: bytes, alt: str) -> str:
    """An <img> holding ``png`` as a data: URI: the page needs no other file."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _input_name(report: Mapping) -> str:
    source = report.get("input")
    if not isinstance(source, Mapping):
        return "local run"
    return str(source.get("key") or source.get("path") or "local run")


def _header(report: Mapping, title: str) -> str:
    status = report.get("status")
    badge_class = _BADGE_CLASS.get(str(status), "other")
    run_id = report.get("run_id")
    sub = f"run <code>{escape(str(run_id))}</code>" if run_id else "run id: none (local run)"
    return (
        f"<h1>{escape(title)} "
        f'<span class="badge {badge_class}">{text(status)}</span></h1>\n'
        f'<p class="sub">{sub}</p>'
    )


def _error(error: object) -> str:
    if not error:
        return ""
    if isinstance(error, Mapping):
        code = error.get("code")
        message = text(error.get("message"))
        suffix = f" <code>[{escape(str(code))}]</code>" if code else ""
        return f'<div class="error"><strong>Error:</strong> {message}{suffix}</div>'
    return f'<div class="error"><strong>Error:</strong> {text(error)}</div>'


def _metrics(report: Mapping) -> str:
    rows = []
    for label, key, gap in (
        ("test MSE", "test_mse", _gap),
        ("train MSE", "train_mse", _gap),
        ("test R²", "test_r2", _difference),
        ("train R²", "train_r2", _difference),
    ):
        trained, best = report.get(key), report.get(f"baseline_{key}")
        difference = f'<td class="num">{escape(gap(trained, best))}</td>'
        rows.append(f"<tr><th>{label}</th>{cell(trained)}{cell(best)}{difference}</tr>")
    head = (
        "<thead><tr><th></th><th>trained</th><th>closed-form baseline</th>"
        "<th>gap to baseline</th></tr></thead>"
    )
    note = (
        '<p class="sub">R² is 1 − MSE / variance of the target on the same rows (1 is a '
        "perfect fit, 0 no better than predicting the mean), as scikit-learn's r2_score.</p>"
    )
    return section("Metrics", f"<table>{head}<tbody>{''.join(rows)}</tbody></table>{note}")


def _gap(value: object, baseline: object) -> str:
    """How much worse than the least-squares optimum, as ``value / baseline − 1``."""
    if not _is_number(value) or not _is_number(baseline) or baseline == 0:
        return MISSING
    return f"{(value / baseline - 1) * 100:+.6g} %"


def _difference(value: object, baseline: object) -> str:
    if not _is_number(value) or not _is_number(baseline):
        return MISSING
    return f"{value - baseline:+.6g}"


def _params(report: Mapping, weights_png: bytes | None) -> str:
    """The trained parameters beside the closed-form ones."""
    params = report.get("params")
    # A diverged run has no parameters: they would mean nothing, so there is no table.
    if not isinstance(params, Mapping):
        return ""
    given = report.get("baseline_params")
    best = given if isinstance(given, Mapping) else {}
    weights = best.get("weights")
    best_weights = weights if isinstance(weights, Mapping) else {}
    rows = []
    for name, value in [*(params.get("weights") or {}).items(), ("bias", params.get("bias"))]:
        label = "bias" if name == "bias" else f"weight <code>{escape(str(name))}</code>"
        closed = best.get("bias") if name == "bias" else best_weights.get(name)
        difference = escape(_difference(value, closed))
        rows.append(
            f'<tr><th>{label}</th>{cell(value)}{cell(closed)}<td class="num">{difference}</td></tr>'
        )
    head = "<th>parameter</th><th>trained</th><th>closed form</th><th>difference</th>"
    parts = [f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"]
    if weights_png:
        parts.append(png_image(weights_png, "Each weight, trained and closed form"))
    return section("Parameters", "\n".join(parts))


def _loss(report: Mapping, loss_png: bytes | None) -> str:
    summary = _loss_summary(report.get("loss_history"), report.get("iterations_run"))
    parts = [f"<p>{escape(summary)}</p>"] if summary else []
    if loss_png:
        parts.append(
            '<p class="sub">Log scale; the dashed line is the closed-form optimum\'s loss on '
            "the training rows, the floor gradient descent approaches.</p>"
        )
        parts.append(png_image(loss_png, summary or "Training loss per iteration"))
    else:
        parts.append('<p class="none">No loss plot for this run.</p>')
    return section("Loss", "\n".join(parts))


def _fit(sample: object, fit_png: bytes | None) -> str:
    """Predicted against actual, and the residuals, on (a sample of) the test rows."""
    if not isinstance(sample, Mapping):
        return ""
    caption = escape(_sample_caption(sample))
    if not fit_png:
        # Only values near the float limit do this: the predictions overflow.
        missing = "No figure: these rows' predictions are too large to draw."
        return section("Fit on test rows", f'<p>{caption}</p>\n<p class="none">{missing}</p>')
    image = png_image(fit_png, "Predicted against actual target, and residuals, on test rows")
    return section("Fit on test rows", f"<p>{caption}</p>\n{image}")


def _sample_caption(sample: Mapping) -> str:
    points, rows = _count(sample.get("points")), _count(sample.get("test_rows"))
    if sample.get("drawn") == "all":
        if sample.get("points") == sample.get("test_rows"):
            return f"All {rows} test rows are shown."
        return f"{points} of {rows} test rows are shown: the others' predictions are too large."
    return (
        f"{points} of {rows} test rows are shown: those whose values, hashed with split seed "
        f"{_format(sample.get('seed'))}, come lowest, drawn while the file was read. The same "
        "file and seed always show the same rows."
    )


def _loss_summary(history: object, iterations: object) -> str:
    if not isinstance(history, list) or not history:
        return ""
    first, last = _format(history[0]), _format(history[-1])
    count = iterations if isinstance(iterations, int) else len(history)
    return f"Training loss per iteration: {first} → {last} over {count} iterations."


def _settings_rows(report: Mapping) -> list[tuple[str, object]]:
    """Hyperparameters, then every other top-level field without a section of its own.

    Generic on purpose: split, rows, iterations_run, stopped, preset, and whatever is added
    later are listed in the report's own order.
    """
    rows = list(_flat_rows(report.get("hyperparameters")))
    for key, value in report.items():
        if key not in _OWN_SECTION:
            rows.extend(_flat_rows({key: value}))
    return rows


def _flat_rows(values: object, prefix: str = "") -> list[tuple[str, object]]:
    """(label, value) pairs; a nested mapping becomes rows labelled ``outer inner``."""
    if not isinstance(values, Mapping):
        return []
    rows: list[tuple[str, object]] = []
    for key, value in values.items():
        label = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flat_rows(value, prefix=f"{label} "))
        else:
            rows.append((label, value))
    return rows


def _warnings(warnings: list[str] | None) -> str:
    # Shown up top: a warning (e.g. one species only) changes how to read every number below.
    if not warnings:
        return ""
    items = "".join(f"<li>{text(warning)}</li>" for warning in warnings)
    return f'<div class="warning"><strong>Warnings</strong><ul>{items}</ul></div>'


def _input_rows(report: Mapping) -> list[tuple[str, object]]:
    ignored = report.get("ignored_columns") or []
    ignored_text = ", ".join(str(column) for column in ignored) or "none"
    return [*_flat_rows(report.get("input")), ("ignored columns", ignored_text)]


def section(title: str, content: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n{content}\n</section>"


def table(rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{escape(label)}</th>{cell(value)}</tr>" for label, value in rows)
    return (
        f'<table class="kv"><tbody>{body}</tbody></table>' if body else '<p class="none">none</p>'
    )


def cell(value: object) -> str:
    """A table cell; numbers (and the missing-number dash) line up on the right."""
    numeric = value is None or _is_number(value)
    return f'<td class="num">{text(value)}</td>' if numeric else f"<td>{text(value)}</td>"


def text(value: object) -> str:
    """A value formatted for a person, then HTML-escaped."""
    return escape(_format(value))


def _format(value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str | int):
        return str(value)
    # Lists and other structures: compact JSON, so a later field still shows in full.
    return json.dumps(value, default=str, ensure_ascii=False)


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else _format(value)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
