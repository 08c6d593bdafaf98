"""Command line: ``linreg train`` on a local CSV, ``linreg invoke`` the Lambda handler on an event.

Exit codes: 0 success; 1 a run failed; 2 bad input or usage; 3 training diverged (``train``
writes report.json only); 4 S3 or AWS could not be reached or refused. Every error is one
``error: <message> [<code>]`` line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO
from unittest import mock
from urllib.parse import quote_plus

from linreg import progress
from linreg.config import ENGINES, LOSSES, PRESETS, SETTINGS, Hyperparameters
from linreg.contract import (
    DEFAULT_FAILURES_PREFIX,
    DEFAULT_MODELS_PREFIX,
    PARAMS_FILE,
    REPORT_FILE,
    REPORT_HTML_FILE,
    RUN_FILES,
    Status,
    StopReason,
)
from linreg.errors import InputError, excerpt, visible
from linreg.spec import spec_from_file

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_AWS = 0, 1, 2, 3, 4
# What a shell reports for a process its reader stopped (128 + SIGPIPE), as `| head` does.
EXIT_BROKEN_PIPE = 141
# The sample data, found from this file so the command works from any folder of a checkout.
SAMPLE_CSV = Path(__file__).resolve().parents[2] / "data" / "iris.csv"
SAMPLE_EVENT = Path(__file__).resolve().parents[2] / "events" / "s3-put.json"


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        return _run(args)
    except UsageError as error:
        return _error(str(error), "bad_usage", EXIT_BAD_INPUT)
    except BrokenPipeError:
        # The reader left (`linreg runs ... | head`): stop quietly, as other tools do, and
        # keep Python from reporting the unflushed rest at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.command(args)
        sys.stdout.flush()  # a closed pipe shows here, not after main has returned
        return code
    except InputError as error:
        return _error(error.message, error.code, EXIT_BAD_INPUT)
    except Exception as error:
        problem = _aws_problem(error)
        if problem is None:
            raise
        return _error(*problem, EXIT_AWS)


def _error(message: str, code: str, exit_code: int) -> int:
    _print(f"error: {message} [{code}]", file=sys.stderr)
    return exit_code


def _aws_problem(error: Exception) -> tuple[str, str] | None:
    """What went wrong talking to S3 or AWS, as a message and a code, or None for
    anything else (a bug, which keeps its traceback)."""
    from botocore import exceptions as aws

    if isinstance(error, aws.NoCredentialsError):
        return (
            "no AWS credentials found; configure them (aws configure), or work locally: "
            "linreg runs and predict also read the folder linreg invoke --out writes",
            "no_credentials",
        )
    if isinstance(error, aws.NoRegionError):
        return "no AWS region set; set AWS_REGION or configure one", "no_credentials"
    # Credentials found but unusable: half a key pair, an expired SSO session, a profile
    # that is not there. botocore's own one-line message says which.
    unusable = (
        aws.PartialCredentialsError,
        aws.CredentialRetrievalError,
        aws.NoAuthTokenError,
        aws.TokenRetrievalError,
        aws.SSOError,
        aws.LoginError,
        aws.RefreshWithMFAUnsupportedError,
        aws.ProfileNotFound,
    )
    if isinstance(error, unusable):
        return f"AWS credentials unusable: {error}", "no_credentials"
    if isinstance(error, aws.EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url')}", "s3_unreachable"
    # The rest of the network's failures: timeouts, TLS, a proxy, a connection dropped
    # mid-answer.
    if isinstance(error, aws.ConnectionError | aws.HTTPClientError):
        return str(error), "s3_unreachable"
    if isinstance(error, aws.ClientError):
        answer = error.response.get("Error", {})
        bucket = answer.get("BucketName")
        where = f" (bucket {excerpt(bucket)})" if bucket else ""
        return (
            f"S3 refused {error.operation_name}: {answer.get('Code')}: "
            f"{excerpt(answer.get('Message') or '')}{where}",
            "s3_refused",
        )
    return None


class UsageError(Exception):
    """Arguments argparse refuses."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its refusals in the one line every exit 2 has, not a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="linreg", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train on a local CSV and write the outputs")
    train.add_argument("csv", type=Path, metavar="CSV")
    train.add_argument("--out", type=Path, required=True, metavar="DIR")
    # Text, parsed by Hyperparameters.from_strings like the environment and upload metadata;
    # an option left out keeps the preset's value.
    train.add_argument(
        "--dataset",
        metavar="NAME|SPEC.json",
        help="what the CSV holds: iris (default), diabetes, or a JSON description",
    )
    train.add_argument("--preset", choices=PRESETS, help="tutorial (default) or converged")
    train.add_argument("--learning-rate", metavar="F|auto")
    train.add_argument("--iterations", metavar="N", help="with --tolerance: the most it may take")
    train.add_argument("--tolerance", metavar="F", help="stop when the loss changes less")
    train.add_argument("--seed", metavar="N")
    train.add_argument("--loss", choices=LOSSES)
    train.add_argument(
        "--engine",
        choices=ENGINES,
        help="statistics: any file size (default); tutorial: the tutorial's own loss over rows",
    )
    train.add_argument("--test-size", metavar="F", help="test fraction (default 0.3)")
    train.add_argument("--verbose", action="store_true", help="print the loss every iteration")
    train.set_defaults(command=train_command)

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

    predict = commands.add_parser("predict", help="apply a trained model to a CSV")
    predict.add_argument(
        "model",
        metavar="MODEL",
        help="a run folder, s3://BUCKET/models/NAME (latest run), s3://BUCKET/models/NAME/RUN, "
        "or DIR/models/NAME in a folder linreg invoke --out wrote",
    )
    predict.add_argument("csv", type=Path, metavar="CSV")
    predict.add_argument("--out", type=Path, required=True, metavar="PREDICTIONS.csv")
    predict.set_defaults(command=predict_command)

    runs = commands.add_parser("runs", help="list a model's runs, newest first")
    runs.add_argument("model", metavar="s3://BUCKET/models/NAME|DIR/models/NAME")
    runs.add_argument(
        "--models-prefix",
        default=DEFAULT_MODELS_PREFIX,
        metavar="PREFIX",
        help=f"where the deployment keeps runs (default {DEFAULT_MODELS_PREFIX})",
    )
    runs.add_argument(
        "--failures-prefix",
        default=DEFAULT_FAILURES_PREFIX,
        metavar="PREFIX",
        help=f"where the deployment keeps failure records (default {DEFAULT_FAILURES_PREFIX})",
    )
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
    return root


def train_command(args: argparse.Namespace) -> int:
    from linreg import pipeline

    spec = spec_from_file(Path(args.dataset)) if (args.dataset or "").endswith(".json") else None
    if spec is not None:
        args.dataset = spec.name
    hyperparameters = Hyperparameters.from_strings(
        {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    )
    each_iteration = _print_iteration if args.verbose else None
    with _open_file(args.csv) as stream, _progress(args):
        run = pipeline.run(
            stream,
            hyperparameters,
            source={"path": str(args.csv)},
            spec=spec,
            on_iteration=each_iteration,
            size=_file_size(stream),
        )
    args.out.mkdir(parents=True, exist_ok=True)
    # Never leave an older run's model beside this run's report.
    for name in RUN_FILES:
        (args.out / name).unlink(missing_ok=True)
    for name, content in run.files.items():
        (args.out / name).write_bytes(content)
    if run.status != Status.SUCCEEDED:
        _print(f"error: {run.report['error']['message']}", file=sys.stderr)
        return EXIT_DIVERGED
    report = run.report
    why = "converged" if report["stopped"] == StopReason.TOLERANCE else "iteration limit"
    _print(
        f"test MSE {report['test_mse']:.4f} (closed-form baseline "
        f"{report['baseline_test_mse']:.4f}), test R² {_number(report['test_r2'])} "
        f"({_number(report['baseline_test_r2'])}) after {report['iterations_run']} iterations "
        f"({why}); outputs in {args.out}"
    )
    return EXIT_OK


def predict_command(args: argparse.Namespace) -> int:
    from linreg.service.layout import Layout
    from linreg.service.published import load_params
    from linreg.training.predict import predict

    if args.model.startswith("s3:") or _is_run_folder(args.model):
        s3 = _plain_s3_client() if args.model.startswith("s3://") else None
        params = load_params(args.model, s3=s3)
    else:
        with _served_copy(args.model, Layout()) as (s3, model, _):
            params = load_params(model, s3=s3)
    predictions = predict(params, _read_file(args.csv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(predictions)
    rows = predictions.count(b"\n") - 1
    _print(f"{rows} predictions of {params['target']} in {args.out}")
    return EXIT_OK


def _is_run_folder(model: str) -> bool:
    """A folder holding a run's files, or a path that names no bucket copy either (for
    load_params to say what is missing)."""
    from linreg.local.embedded_s3 import mirror_root
    from linreg.service.layout import Layout

    path = Path(model)
    return (path / PARAMS_FILE).is_file() or mirror_root(path, Layout().models) is None


def runs_command(args: argparse.Namespace) -> int:
    layout = _layout(models=args.models_prefix, failures=args.failures_prefix)
    if args.model.startswith("s3:"):
        return _list_runs(args, _plain_s3_client(), args.model, layout, copy=None)
    with _served_copy(args.model, layout) as (s3, model, root):
        return _list_runs(args, s3, model, layout, copy=root)


def _list_runs(args: argparse.Namespace, s3, model: str, layout, *, copy: Path | None) -> int:
    """List the runs of ``model`` (an s3:// address); ``copy`` is the local folder it was
    served from, whose files the links then name."""
    from linreg.service.published import link, model_runs

    listing = model_runs(model, s3=s3, layout=layout)
    runs = listing.runs
    _print(f"{'run':<30} {'status':<10} {'test MSE':>9} {'baseline':>9} {'preset':<10} iterations")
    for run in runs:
        _print(
            f"{run['run_id']:<30} {run['status']:<10} {_number(run['test_mse']):>9} "
            f"{_number(run['baseline_test_mse']):>9} {run['preset'] or '-':<10} "
            f"{run['iterations'] or '-'}" + (f"  [{run['error']}]" if run["error"] else "")
        )
        if args.links:
            _print(f"  {copy / run['key'] if copy else link(s3, run['bucket'], run['key'])}")
    if not runs:
        _print(f"no runs under {args.model}")
    if args.html:
        _write_model_page(args, s3, listing, copy=copy)
    return EXIT_OK


@contextmanager
def _served_copy(model: str, layout) -> Iterator[tuple[object, str, Path]]:
    """A client of an embedded S3 holding the bucket copy ``model`` (a folder) lies in, the
    s3:// address of ``model`` there, and the copy's root. The copy is what ``linreg invoke
    --out`` writes, so runs and predict read it as they read a bucket, with the same code."""
    import boto3

    from linreg.local.embedded_s3 import FOLDER_BUCKET, embedded_s3, load_folder, mirror_root

    path = Path(model)
    root = mirror_root(path, layout.models)
    if root is None:
        raise InputError(
            "bad_model",
            f"{excerpt(model)} is neither an s3://bucket/... address nor a folder under "
            f"{layout.models} of a bucket's local copy (what linreg invoke --out writes)",
        )
    if not path.is_dir():
        raise InputError("model_not_found", f"{excerpt(model)} does not exist")
    with embedded_s3():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=FOLDER_BUCKET)
        load_folder(s3, FOLDER_BUCKET, root, (layout.models, layout.failures))
        yield s3, f"s3://{FOLDER_BUCKET}/{path.resolve().relative_to(root).as_posix()}", root


def _write_model_page(args: argparse.Namespace, s3, listing, *, copy: Path | None) -> None:
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
    _print(f"page in {args.html} ({where})")


def _layout(**prefixes: str):
    from linreg.service.layout import Layout

    try:
        return Layout(**prefixes)
    except ValueError as error:
        raise InputError("bad_prefix", str(error)) from None


def _plain_s3_client():
    import boto3
    from botocore.config import Config

    # SigV4 for presigned links: the older scheme is refused in newer regions.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def invoke_command(args: argparse.Namespace) -> int:
    from linreg.service.event import is_test_event, s3_records

    event = _invoke_event(args)
    records = s3_records(event)
    if not records and is_test_event(event):
        _print(f"{args.event}: S3's s3:TestEvent, sent when notifications are set up; ignored")
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
    with mock.patch.dict(os.environ, quiet), _progress(args):
        return _invoke(args, event, records)


def _invoke_event(args: argparse.Namespace) -> dict:
    """The event file's, or with ``--key`` the one S3 sends for that upload."""
    if (args.event is None) == (args.key is None):
        raise InputError("bad_usage", "give an event file or --key KEY, not both or neither")
    if args.event is not None:
        return _read_event(args.event)
    args.event = Path(f"the upload of {args.data} to {args.key}")
    return upload_event(args.key, _read_file(args.data))


def upload_event(key: str, data: bytes) -> dict:
    """The notification S3 sends when ``data`` is put at ``key`` in the sample event's
    bucket: the sample's record with this upload's key, size, ETag and time."""
    record = json.loads(SAMPLE_EVENT.read_text())["Records"][0]
    record["eventTime"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    record["s3"]["object"] = {
        "key": quote_plus(key, safe="/"),
        "size": len(data),
        # S3's ETag of an object put in one piece, unencrypted: its MD5, as hex.
        "eTag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sequencer": f"{time.time_ns():018X}",
    }
    return {"Records": [record]}


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


def _progress(args: argparse.Namespace) -> AbstractContextManager[None]:
    """Progress on stderr if it is a terminal, unless ``--verbose`` prints to the same
    terminal: its lines would break into the line being rewritten."""
    if args.verbose and sys.stdout.isatty():
        return nullcontext()
    return progress.on_terminal(sys.stderr)


def _invoke(args: argparse.Namespace, event: dict, records: list) -> int:
    if args.endpoint_url:
        place = mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_S3": args.endpoint_url})
    elif args.aws:
        place = nullcontext()
    else:
        upload = Upload(_read_file(args.data), upload_metadata(args.metadata), args.out)
        if args.distributed_above is not None:
            place = _state_machine_in_moto(args, records, upload)
        else:
            place = _embedded_s3_with(records, upload)
    with place as served:
        from linreg.handler import lambda_handler, s3_client

        outcomes = lambda_handler(event, None)["outcomes"]
        s3 = s3_client()
        # A run handed to the state machine reports as what its execution did.
        outcomes = [_finished(served, s3, outcome) for outcome in outcomes]
        for outcome in outcomes:
            _print_outcome(s3, outcome)
            if args.out:
                download_run(s3, outcome, args.out)
    ok = all(outcome["status"] in (Status.SUCCEEDED, Status.SKIPPED) for outcome in outcomes)
    return EXIT_OK if ok else EXIT_FAILED


@dataclass(frozen=True)
class Upload:
    """What the embedded S3 starts with: ``data`` (with ``metadata``) at each event key
    where nothing is, and the runs of the bucket's local copy ``mirror``."""

    data: bytes
    metadata: dict[str, str]
    mirror: Path | None


def _finished(served, s3, outcome: dict) -> dict:
    """A started run's outcome: its execution's, once it has ended. A failed execution
    has written the run's failure record (the state machine's RecordFailure or RunRefused
    step), which says why."""
    if served is None or outcome["status"] != Status.STARTED:
        return outcome
    from linreg.local.state_machine import execution_arn
    from linreg.service.layout import Layout
    from linreg.service.storage import read_json

    described = served.wait(execution_arn(served.arn, outcome["run_id"]), timeout_seconds=600)
    if described["status"] == "SUCCEEDED":
        return json.loads(described["output"])
    layout = Layout.from_env(os.environ)
    key = layout.failure_key(layout.model_name(outcome["key"]), outcome["run_id"])
    record, _ = read_json(s3, outcome["bucket"], key)
    error = (record or {}).get("error") or {
        "code": "run_failed",
        "message": f"the execution ended {described['status']}: {described.get('cause')}",
    }
    status = (record or {}).get("status", Status.FAILED)
    return {**outcome, "status": status, **error, "failure_key": key if record else None}


@contextmanager
def _state_machine_in_moto(args: argparse.Namespace, records: list, upload: Upload):
    """The stack's state machine, synthesized from this checkout, run in moto with the
    handler serving its steps; S3 is moto's too, stocked as ``upload`` says."""
    from linreg import contract, handler
    from linreg.local.embedded_s3 import FAKE_AWS
    from linreg.local.state_machine import serving, synthesized_template

    # The sizes reach the function through its environment, not the state machine's.
    template = synthesized_template()
    env = {**FAKE_AWS, contract.DISTRIBUTED_ABOVE_BYTES_ENV: str(args.distributed_above)}
    if args.part_bytes:
        env[contract.PART_BYTES_ENV] = str(args.part_bytes)
    buckets = {record.bucket for record in records}
    if len(buckets) != 1:
        raise InputError("bad_usage", "--distributed-above needs an event about one bucket")
    (bucket,) = buckets
    with mock.patch.dict(os.environ, env):
        os.environ.pop("AWS_ENDPOINT_URL_S3", None)
        handler._client.cache_clear()  # a client made for another endpoint
        steps = functools.partial(handler.lambda_handler, context=None)
        with serving(template, steps, bucket) as served:
            _stock(served.s3, records, upload)
            os.environ[contract.STATE_MACHINE_ARN_ENV] = served.arn
            with mock.patch.object(handler, "sfn_client", lambda: served.sfn):
                yield served
        handler._client.cache_clear()


@contextmanager
def _embedded_s3_with(records: list, upload: Upload) -> Iterator[None]:
    """The embedded S3, stocked as ``upload`` says."""
    import boto3

    from linreg.local.embedded_s3 import embedded_s3

    with embedded_s3():
        _stock(boto3.client("s3"), records, upload)
        yield


def _stock(s3, records: list, upload: Upload) -> None:
    """Each event's bucket, holding the runs of the local copy and, at each event key
    where nothing is, the upload."""
    from linreg.local.embedded_s3 import load_folder
    from linreg.service.layout import Layout
    from linreg.service.storage import exists

    layout = Layout.from_env(os.environ)
    for bucket in sorted({record.bucket for record in records} - _buckets(s3)):
        s3.create_bucket(Bucket=bucket)
        if upload.mirror is not None:
            load_folder(s3, bucket, upload.mirror, (layout.models, layout.failures))
    for record in records:
        if not exists(s3, record.bucket, record.key):
            s3.put_object(
                Bucket=record.bucket, Key=record.key, Body=upload.data, Metadata=upload.metadata
            )


def _print_outcome(s3, outcome: dict) -> None:
    where = f"s3://{outcome['bucket']}/{outcome['key']}"
    _print(f"{where}: {outcome['status']}")
    if outcome["status"] == Status.SKIPPED:
        _print(f"  {outcome['reason']}")
    elif outcome["status"] == Status.SUCCEEDED:
        report = json.loads(
            s3.get_object(Bucket=outcome["bucket"], Key=outcome["prefix"] + REPORT_FILE)[
                "Body"
            ].read()
        )
        _print(_describe(report, outcome))
    else:
        _print(f"  error [{outcome['code']}]: {outcome['message']}")
        _print(f"  failure record: s3://{outcome['bucket']}/{outcome['failure_key']}")


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
            f"  test R²    {_number(report['test_r2'])}   (closed-form baseline "
            f"{_number(report['baseline_test_r2'])})",
            f"  rows       {rows['total']} ({rows['train']} train, {rows['test']} test)",
            f"  weights    {weights}",
            f"  bias       {report['params']['bias']:+.4f}",
            f"  loss       {report['loss_history'][0]:.4f} → {report['loss_history'][-1]:.4f} "
            f"over {report['iterations_run']} iterations",
            f"  outputs    s3://{outcome['bucket']}/{outcome['prefix']}",
        ]
        + _execution(report)
    )


def _execution(report: dict) -> list[str]:
    execution = report.get("execution") or {}
    if execution.get("mode") != "distributed":
        return []
    parts = execution["parts"]
    return [f"  execution  distributed, in {parts} part{'s' if parts != 1 else ''}"]


def download_run(s3, outcome: dict, out: Path) -> None:
    """Save a run's files (every page of them), or its failure record, under ``out`` as
    the bucket holds them, with the model page and latest.json beside them."""
    from linreg.service.storage import exists, list_keys

    if "prefix" in outcome:
        keys = list(list_keys(s3, outcome["bucket"], outcome["prefix"]))
    else:
        keys = [outcome["failure_key"]] if "failure_key" in outcome else []
    for key in keys:
        _save(s3, outcome["bucket"], key, out)
    if keys:
        folder = out / Path(keys[0]).parent
        _print(f"  saved to   {folder}")
        if (folder / REPORT_HTML_FILE).exists():
            _print(f"  report     {folder / REPORT_HTML_FILE}")
        page, latest = _model_keys(outcome["key"])
        # Its links are relative, so they work beside the run just saved.
        if page and exists(s3, outcome["bucket"], page):
            _save(s3, outcome["bucket"], page, out)
            _print(f"  model page {out / page}")
        # The copy's pointer, for the next invoke --out DIR and for predict DIR/models/NAME.
        if latest and exists(s3, outcome["bucket"], latest):
            _save(s3, outcome["bucket"], latest, out)


def _save(s3, bucket: str, key: str, out: Path) -> None:
    target = out / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _model_keys(upload_key: str) -> tuple[str | None, str | None]:
    """The page and latest.json of the model an upload trains, where the handler's layout
    puts them."""
    from linreg.service.layout import Layout

    layout = Layout.from_env(os.environ)
    name = layout.model_name(upload_key)
    if not name or layout.name_problem(name, key=upload_key) is not None:
        return None, None
    return layout.page_key(name), layout.latest_key(name)


def _buckets(s3) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}


def _read_file(path: Path) -> bytes:
    with _open_file(path) as file:
        return file.read()


def _open_file(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError("unreadable_file", f"cannot read {path}: {error.strerror}") from None


def _file_size(file: BinaryIO) -> int | None:
    """A regular file's size; None for a pipe or a device, whose length is unknown."""
    status = os.fstat(file.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _read_event(path: Path) -> dict:
    try:
        return json.loads(_read_file(path))
    except json.JSONDecodeError as error:
        raise InputError("bad_event", f"{path} is not JSON: {error}") from None


def _print_iteration(iteration: int, loss: float) -> None:
    _print(f"iteration {iteration + 1}, loss {loss:.6f}")


def _print(text: str, *, file: TextIO | None = None) -> None:
    """Print a line (or lines): whatever came from outside (keys, messages, names), with its
    hidden characters escaped, so that it cannot clear, recolour or retitle the terminal."""
    print("\n".join(visible(line) for line in text.split("\n")), file=file or sys.stdout)
