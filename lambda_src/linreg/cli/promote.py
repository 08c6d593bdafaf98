"""``linreg promote``: make a chosen run its model's latest, whatever the promotion rule."""

from __future__ import annotations

import argparse

from linreg.cli.console import EXIT_OK, add_layout_options, number, plain_s3_client, say
from linreg.errors import InputError


def add_promote(commands: argparse._SubParsersAction) -> None:
    promote = commands.add_parser(
        "promote", help="point a model's latest.json at one of its runs, past the promotion rule"
    )
    promote.add_argument("run", metavar="s3://BUCKET/models/NAME/RUN_ID")
    add_layout_options(promote)
    promote.set_defaults(command=promote_command)


def promote_command(args: argparse.Namespace) -> int:
    from linreg.service.layout import Layout
    from linreg.service.promote import promote

    if not args.run.startswith("s3:"):
        raise InputError("bad_model", "linreg promote works on a bucket: s3://BUCKET/models/...")
    try:
        layout = Layout(models=args.models_prefix, failures=args.failures_prefix)
    except ValueError as error:
        raise InputError("bad_prefix", str(error)) from None
    done = promote(plain_s3_client(), args.run, layout=layout)
    new, old = done.pointer, done.replaced
    say(
        f"latest.json of {done.name} now points at {new['run_id']} "
        f"(test MSE {number(new['test_mse'])})"
    )
    if old is None:
        say("it pointed at no run before")
    elif old.get("run_id") == new["run_id"]:
        say("it pointed at that run already")
    else:
        say(f"it pointed at {old.get('run_id')} (test MSE {number(old.get('test_mse'))})")
    if not done.page_written:
        say("the model's page was not rewritten; its next run rewrites it")
    return EXIT_OK
