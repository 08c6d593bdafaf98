"""Command line: ``linreg train`` on a local CSV, ``linreg invoke`` the Lambda handler on an
event, ``linreg predict`` with a model, ``linreg runs`` of a model, ``linreg promote`` a run.

Exit codes: 0 success; 1 a run failed; 2 bad input or usage; 3 training diverged (``train``
writes report.json only); 4 S3 or AWS could not be reached or refused. Every error is one
``error: <message> [<code>]`` line on stderr.

This module turns errors into exit codes; each command lives in a module of its own
(train.py: train and predict, invoke.py, listing.py: runs), console.py what they share.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from linreg.cli import invoke, listing, promote, train
from linreg.cli.console import EXIT_AWS, EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, say
from linreg.errors import RunError, excerpt

# What scripts and tests name: the entry point and the exit codes.
__all__ = ["EXIT_AWS", "EXIT_BAD_INPUT", "EXIT_BROKEN_PIPE", "main", "parser"]


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
    except RunError as error:
        return _error(error.message, error.code, EXIT_BAD_INPUT)
    except Exception as error:
        problem = _aws_problem(error)
        if problem is None:
            raise
        return _error(*problem, EXIT_AWS)


def _error(message: str, code: str, exit_code: int) -> int:
    say(f"error: {message} [{code}]", file=sys.stderr)
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
        where = f" (bucket {excerpt(str(bucket))})" if bucket else ""
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
    commands_added = (
        train.add_train,
        invoke.add_invoke,
        train.add_predict,
        listing.add_runs,
        promote.add_promote,
    )
    for add in commands_added:
        add(commands)
    return root
