"""What the commands share: exit codes, printing what came from outside, reading the
user's files, progress on a terminal."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import BinaryIO, TextIO

from linreg import progress
from linreg.errors import InputError, visible

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_AWS = 0, 1, 2, 3, 4
# What a shell reports for a process its reader stopped (128 + SIGPIPE), as `| head` does.
EXIT_BROKEN_PIPE = 141
# The sample data, found from this file so the command works from any folder of a checkout.
SAMPLE_CSV = Path(__file__).resolve().parents[3] / "data" / "iris.csv"


def say(text: str, *, file: TextIO | None = None) -> None:
    """Print a line (or lines): whatever came from outside (keys, messages, names), with its
    hidden characters escaped, so that it cannot clear, recolour or retitle the terminal."""
    print("\n".join(visible(line) for line in text.split("\n")), file=file or sys.stdout)


def read_file(path: Path) -> bytes:
    with open_file(path) as file:
        return file.read()


def open_file(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError("unreadable_file", f"cannot read {path}: {error.strerror}") from None


def file_size(file: BinaryIO) -> int | None:
    """A regular file's size; None for a pipe or a device, whose length is unknown."""
    status = os.fstat(file.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def read_event(path: Path) -> dict:
    try:
        return json.loads(read_file(path))
    except json.JSONDecodeError as error:
        raise InputError("bad_event", f"{path} is not JSON: {error}") from None


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_iteration(iteration: int, loss: float) -> None:
    say(f"iteration {iteration + 1}, loss {loss:.6f}")


def plain_s3_client():
    import boto3
    from botocore.config import Config

    # SigV4 for presigned links: the older scheme is refused in newer regions.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def progress_for(args: argparse.Namespace) -> AbstractContextManager[None]:
    """Progress on stderr if it is a terminal, unless ``--verbose`` prints to the same
    terminal: its lines would break into the line being rewritten."""
    if args.verbose and sys.stdout.isatty():
        return nullcontext()
    return progress.on_terminal(sys.stderr)


def add_layout_options(command: argparse.ArgumentParser) -> None:
    """--models-prefix and --failures-prefix, for a deployment with other prefixes."""
    from linreg.contract import DEFAULT_FAILURES_PREFIX, DEFAULT_MODELS_PREFIX

    command.add_argument(
        "--models-prefix",
        default=DEFAULT_MODELS_PREFIX,
        metavar="PREFIX",
        help=f"where the deployment keeps runs (default {DEFAULT_MODELS_PREFIX})",
    )
    command.add_argument(
        "--failures-prefix",
        default=DEFAULT_FAILURES_PREFIX,
        metavar="PREFIX",
        help=f"where the deployment keeps failure records (default {DEFAULT_FAILURES_PREFIX})",
    )
