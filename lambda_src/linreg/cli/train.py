"""``linreg train`` on a local CSV, and ``linreg predict`` with a trained model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linreg.cli.console import (
    EXIT_DIVERGED,
    EXIT_OK,
    file_size,
    number,
    open_file,
    plain_s3_client,
    print_iteration,
    progress_for,
    read_file,
    say,
)
from linreg.config import ENGINES, LOSSES, PRESETS, SETTINGS, Hyperparameters
from linreg.contract import (
    PARAMS_FILE,
    RUN_FILES,
    Status,
    StopReason,
)
from linreg.local.embedded_s3 import served_copy
from linreg.spec import spec_from_file


def add_train(commands: argparse._SubParsersAction) -> None:
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


def train_command(args: argparse.Namespace) -> int:
    from linreg import pipeline

    spec = spec_from_file(Path(args.dataset)) if (args.dataset or "").endswith(".json") else None
    if spec is not None:
        args.dataset = spec.name
    hyperparameters = Hyperparameters.from_strings(
        {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    )
    each_iteration = print_iteration if args.verbose else None
    with open_file(args.csv) as stream, progress_for(args):
        run = pipeline.run(
            stream,
            hyperparameters,
            source={"path": str(args.csv)},
            spec=spec,
            on_iteration=each_iteration,
            size=file_size(stream),
        )
    args.out.mkdir(parents=True, exist_ok=True)
    # Never leave an older run's model beside this run's report.
    for name in RUN_FILES:
        (args.out / name).unlink(missing_ok=True)
    for name, content in run.files.items():
        (args.out / name).write_bytes(content)
    if run.status != Status.SUCCEEDED:
        say(f"error: {run.report['error']['message']}", file=sys.stderr)
        return EXIT_DIVERGED
    report = run.report
    why = "converged" if report["stopped"] == StopReason.TOLERANCE else "iteration limit"
    say(
        f"test MSE {report['test_mse']:.4f} (closed-form baseline "
        f"{report['baseline_test_mse']:.4f}), test R² {number(report['test_r2'])} "
        f"({number(report['baseline_test_r2'])}) after {report['iterations_run']} iterations "
        f"({why}); outputs in {args.out}"
    )
    return EXIT_OK


def add_predict(commands: argparse._SubParsersAction) -> None:
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


def predict_command(args: argparse.Namespace) -> int:
    from linreg.service.layout import Layout
    from linreg.service.published import load_params
    from linreg.training.predict import predict

    if args.model.startswith("s3:") or _is_run_folder(args.model):
        s3 = plain_s3_client() if args.model.startswith("s3://") else None
        params = load_params(args.model, s3=s3)
    else:
        with served_copy(args.model, Layout()) as (s3, model, _):
            params = load_params(model, s3=s3)
    predictions = predict(params, read_file(args.csv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(predictions)
    rows = predictions.count(b"\n") - 1
    say(f"{rows} predictions of {params['target']} in {args.out}")
    return EXIT_OK


def _is_run_folder(model: str) -> bool:
    """A folder holding a run's files, or a path that names no bucket copy either (for
    load_params to say what is missing)."""
    from linreg.local.embedded_s3 import mirror_root
    from linreg.service.layout import Layout

    path = Path(model)
    return (path / PARAMS_FILE).is_file() or mirror_root(path, Layout().models) is None
