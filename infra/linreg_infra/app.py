"""The CDK app: the one stack and cdk-nag's checks, built from the `linreg:*` context.

Settings come from the "linreg:*" context keys (see settings.py and docs/deploy.md); override
one for a single run with e.g. `cdk synth -c linreg:memoryMb=2048`. cdk-nag's AWS Solutions
checks run on every synthesis: an unsuppressed error stops it. infra/app.py, which cdk.json
runs, calls `main`; the tests and linreg_infra/lambda_image.py call `build_app`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from linreg_infra.settings import Settings, SettingsError
from linreg_infra.stack import LinregStack

# Anchored to this file (infra/linreg_infra/app.py, installed editable from the checkout),
# so the app synthesizes the same way from any working directory.
REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC_DIR = REPO_ROOT / "lambda_src"


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with its one stack and the checks. Tests pass `context` and `outdir`;
    under the CDK CLI both come from the CLI instead."""
    app = cdk.App(context=context, outdir=outdir)
    settings = Settings.from_context(app.node.get_all_context())
    LinregStack(
        app,
        settings.stack_name,
        settings=settings,
        lambda_src_dir=LAMBDA_SRC_DIR,
        description="linreg: train an MXNet linear regression on CSVs uploaded to S3",
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


def main() -> None:
    """Synthesize the app as the CDK CLI asks (`cdk synth`, `cdk deploy`)."""
    try:
        app = build_app()
    except SettingsError as error:
        sys.exit(f"error: {error}")
    app.synth()
