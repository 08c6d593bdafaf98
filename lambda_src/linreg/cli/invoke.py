"""``linreg invoke``: the Lambda handler on an S3 event, on the embedded S3 (optionally with
the stack's state machine in moto), an endpoint of the user's, or AWS."""

from __future__ import annotations

import argparse
import json
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from linreg.cli.console import (
    EXIT_FAILED,
    EXIT_OK,
    SAMPLE_CSV,
    number,
    progress_for,
    read_event,
    read_file,
    say,
)
from linreg.contract import (
    REPORT_FILE,
    Status,
)
from linreg.errors import InputError, excerpt
from linreg.local.invoke import (
    Upload,
    download_run,
    embedded_s3_with,
    finished,
    state_machine_in_moto,
    upload_event,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def add_invoke(commands: argparse._SubParsersAction) -> None:
    invoke = commands.add_parser(
        "invoke", help="run the Lambda handler on an S3 event (embedded S3 by default)"
    )
    invoke.add_argument("event", type=Path, nargs="?", metavar="EVENT.json")
    invoke.add_argument(
        "--key",
        metavar="KEY",
        help="instead of an event file: upload --data to KEY (e.g. incoming/NAME.csv) in the "
        "sample event's bucket, and run on the event S3 sends for it",
    )
    invoke.add_argument(
        "--metadata",
        metavar="NAME=VALUE,...",
        help="the upload's S3 user metadata, its settings: e.g. dataset=diabetes,preset=converged",
    )
    invoke.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the bucket's local copy: the embedded S3 starts with its runs, and each run's "
        "files are saved back into it",
    )
    target = invoke.add_mutually_exclusive_group()
    target.add_argument(
        "--endpoint-url", metavar="URL", help="an S3 endpoint to use as is (no setup)"
    )
    target.add_argument(
        "--aws", action="store_true", help="use real AWS with your credentials (no setup)"
    )
    invoke.add_argument(
        "--data",
        type=Path,
        default=SAMPLE_CSV,
        metavar="CSV",
        help="what the embedded S3 holds at each event key (default: the sample iris data)",
    )
    invoke.add_argument(
        "--distributed-above",
        type=int,
        metavar="BYTES",
        help="train uploads above this size in parts, as the deployed state machine does",
    )
    invoke.add_argument(
        "--part-bytes", type=int, metavar="BYTES", help="with --distributed-above: bytes per part"
    )
    invoke.add_argument("--verbose", action="store_true", help="show the handler's logs")
    invoke.set_defaults(command=invoke_command)


def invoke_command(args: argparse.Namespace) -> int:
    from linreg.service.event import is_test_event, s3_records

    event = _invoke_event(args)
    records = s3_records(event)
    if not records and is_test_event(event):
        say(f"{args.event}: S3's s3:TestEvent, sent when notifications are set up; ignored")
        return EXIT_OK
    if not records:
        raise InputError("no_records", f"{args.event} holds no S3 records")
    _check_invoke_options(args)
    # A malformed record is the handler's to skip and report; it names nothing to upload.
    records = [record for record in records if record.problem is None]
    # Metrics are CloudWatch log lines; on a terminal they would only bury the summary.
    quiet = {
        "POWERTOOLS_LOG_LEVEL": "INFO" if args.verbose else "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "false" if args.verbose else "true",
    }
    quiet = {name: value for name, value in quiet.items() if name not in os.environ}
    with mock.patch.dict(os.environ, quiet), progress_for(args):
        return _invoke(args, event, records)


def _invoke_event(args: argparse.Namespace) -> dict:
    """The event file's, or with ``--key`` the one S3 sends for that upload."""
    if (args.event is None) == (args.key is None):
        raise InputError("bad_usage", "give an event file or --key KEY, not both or neither")
    if args.event is not None:
        return read_event(args.event)
    args.event = Path(f"the upload of {args.data} to {args.key}")
    return upload_event(args.key, read_file(args.data))


def _check_invoke_options(args: argparse.Namespace) -> None:
    """Options that would otherwise be ignored without a word."""
    if args.part_bytes is not None and args.distributed_above is None:
        raise InputError("bad_usage", "--part-bytes applies only with --distributed-above")
    remote = "--endpoint-url" if args.endpoint_url else "--aws" if args.aws else None
    if remote and args.distributed_above is not None:
        raise InputError("bad_usage", "--distributed-above runs on the embedded S3 only")
    if remote and (args.metadata or args.key):
        raise InputError(
            "bad_usage",
            f"--key and --metadata upload to the embedded S3; with {remote} the event's "
            "objects are used as they are",
        )


def upload_metadata(text: str | None) -> dict[str, str]:
    """``dataset=diabetes,preset=converged`` as S3 user metadata, as ``aws s3 cp
    --metadata`` takes it."""
    metadata = {}
    for item in filter(None, (text or "").split(",")):
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise InputError(
                "bad_usage", f"--metadata {excerpt(item)} is not NAME=VALUE (e.g. preset=converged)"
            )
        metadata[name.strip().lower()] = value.strip()
    return metadata


def _invoke(args: argparse.Namespace, event: dict, records: list) -> int:
    place: AbstractContextManager[Any]
    if args.endpoint_url:
        place = mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_S3": args.endpoint_url})
    elif args.aws:
        place = nullcontext()
    else:
        upload = Upload(read_file(args.data), upload_metadata(args.metadata), args.out)
        if args.distributed_above is not None:
            place = state_machine_in_moto(
                records,
                upload,
                distributed_above=args.distributed_above,
                part_bytes=args.part_bytes,
            )
        else:
            place = embedded_s3_with(records, upload)
    with place as served:
        from linreg.handler import lambda_handler, s3_client

        outcomes = lambda_handler(event, None)["outcomes"]
        s3 = s3_client()
        # A run handed to the state machine reports as what its execution did.
        outcomes = [finished(served, s3, outcome) for outcome in outcomes]
        for outcome in outcomes:
            _print_outcome(s3, outcome)
            if args.out:
                for what, path in download_run(s3, outcome, args.out):
                    say(f"  {what:<10} {path}")
    ok = all(outcome["status"] in (Status.SUCCEEDED, Status.SKIPPED) for outcome in outcomes)
    return EXIT_OK if ok else EXIT_FAILED


def _print_outcome(s3: S3Client, outcome: dict) -> None:
    where = f"s3://{outcome['bucket']}/{outcome['key']}"
    say(f"{where}: {outcome['status']}")
    if outcome["status"] == Status.SKIPPED:
        say(f"  {outcome['reason']}")
    elif outcome["status"] == Status.SUCCEEDED and "predictions_key" in outcome:
        say(_describe_predictions(outcome))
    elif outcome["status"] == Status.SUCCEEDED:
        report = json.loads(
            s3.get_object(Bucket=outcome["bucket"], Key=outcome["prefix"] + REPORT_FILE)[
                "Body"
            ].read()
        )
        say(_describe(report, outcome))
    else:
        say(f"  error [{outcome['code']}]: {outcome['message']}")
        say(f"  failure record: s3://{outcome['bucket']}/{outcome['failure_key']}")


def _describe(report: dict, outcome: dict) -> str:
    weights = "  ".join(
        f"{name} {value:+.4f}" for name, value in report["params"]["weights"].items()
    )
    rows = report["rows"]
    return "\n".join(
        [
            f"  run        {outcome['run_id']}",
            f"  test MSE   {report['test_mse']:.4f}   (closed-form baseline "
            f"{report['baseline_test_mse']:.4f})",
            f"  train MSE  {report['train_mse']:.4f}   (closed-form baseline "
            f"{report['baseline_train_mse']:.4f})",
            f"  test R²    {number(report['test_r2'])}   (closed-form baseline "
            f"{number(report['baseline_test_r2'])})",
            f"  rows       {rows['total']} ({rows['train']} train, {rows['test']} test)",
            f"  weights    {weights}",
            f"  bias       {report['params']['bias']:+.4f}",
            f"  loss       {report['loss_history'][0]:.4f} → {report['loss_history'][-1]:.4f} "
            f"over {report['iterations_run']} iterations",
            f"  outputs    s3://{outcome['bucket']}/{outcome['prefix']}",
        ]
        + _execution(report)
    )


def _describe_predictions(outcome: dict) -> str:
    """A scored upload (``predict/<name>/...``): which run scored it, and where."""
    rows = f"{outcome['rows']} rows" if "rows" in outcome else "already scored"
    return "\n".join(
        [
            f"  model      {outcome['model']}, run {outcome['model_run_id']}",
            f"  scored     {rows}",
            f"  outputs    s3://{outcome['bucket']}/{outcome['predictions_key']}",
        ]
    )


def _execution(report: dict) -> list[str]:
    execution = report.get("execution") or {}
    if execution.get("mode") != "distributed":
        return []
    parts = execution["parts"]
    return [f"  execution  distributed, in {parts} part{'s' if parts != 1 else ''}"]
