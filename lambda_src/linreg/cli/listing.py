"""``linreg runs``: a model's runs, newest first, from a bucket or its local copy; and the
model's page."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from linreg.cli.console import (
    EXIT_OK,
    add_layout_options,
    number,
    plain_s3_client,
    say,
)
from linreg.errors import InputError
from linreg.local.embedded_s3 import served_copy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def add_runs(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser("runs", help="list a model's runs, newest first")
    runs.add_argument("model", metavar="s3://BUCKET/models/NAME|DIR/models/NAME")
    add_layout_options(runs)
    runs.add_argument(
        "--links", action="store_true", help="print a presigned link to each run's report"
    )
    runs.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the model's page (models/NAME/index.html) to FILE; its links are "
        "relative as in the bucket, or presigned with --links",
    )
    runs.set_defaults(command=runs_command)


def runs_command(args: argparse.Namespace) -> int:
    layout = _layout(models=args.models_prefix, failures=args.failures_prefix)
    if args.model.startswith("s3:"):
        return _list_runs(args, plain_s3_client(), args.model, layout, copy=None)
    with served_copy(args.model, layout) as (s3, model, root):
        return _list_runs(args, s3, model, layout, copy=root)


def _list_runs(
    args: argparse.Namespace, s3: S3Client, model: str, layout, *, copy: Path | None
) -> int:
    """List the runs of ``model`` (an s3:// address); ``copy`` is the local folder it was
    served from, whose files the links then name."""
    from linreg.service.published import link, model_runs

    listing = model_runs(model, s3=s3, layout=layout)
    runs = listing.runs
    say(f"{'run':<30} {'status':<10} {'test MSE':>9} {'baseline':>9} {'preset':<10} iterations")
    for run in runs:
        say(
            f"{run['run_id']:<30} {run['status']:<10} {number(run['test_mse']):>9} "
            f"{number(run['baseline_test_mse']):>9} {run['preset'] or '-':<10} "
            f"{run['iterations'] or '-'}" + (f"  [{run['error']}]" if run["error"] else "")
        )
        if args.links:
            say(f"  {copy / run['key'] if copy else link(s3, run['bucket'], run['key'])}")
    if not runs:
        say(f"no runs under {args.model}")
    if args.html:
        _write_model_page(args, s3, listing, copy=copy)
    return EXIT_OK


def _write_model_page(
    args: argparse.Namespace, s3: S3Client, listing, *, copy: Path | None
) -> None:
    """The page the function keeps at models/NAME/index.html, from the same runs; its
    links name a local copy's files wherever the page is written."""
    from linreg.contract import MODEL_PAGE_FILE
    from linreg.service import model_page
    from linreg.service.published import link

    runs = listing.runs[: model_page.PAGE_RUNS]

    def presigned(run: dict) -> str:
        return link(s3, run["bucket"], run["key"])

    def local_file(run: dict) -> str:
        return (copy / run["key"]).resolve().as_uri()

    to: Callable[[dict], str]
    if copy is not None:
        to, where = local_file, f"links to the files in {copy}"
    elif args.links:
        to, where = presigned, "presigned links, valid for an hour"
    else:
        to = model_page.relative_to(listing.folder + MODEL_PAGE_FILE)
        where = f"links relative to {args.model.rstrip('/')}/, as in the bucket"
    older = len(listing.runs) - len(runs) + listing.older
    page = model_page.render(
        listing.name or listing.folder.rstrip("/"), model_page.with_links(runs, to), older=older
    )
    args.html.parent.mkdir(parents=True, exist_ok=True)
    args.html.write_bytes(page)
    say(f"page in {args.html} ({where})")


def _layout(**prefixes: str):
    from linreg.service.layout import Layout

    try:
        return Layout(**prefixes)
    except ValueError as error:
        raise InputError("bad_prefix", str(error)) from None
