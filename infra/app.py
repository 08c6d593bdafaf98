"""CDK entry point, run by `cdk synth` / `cdk deploy` through the "app" line of cdk.json.

Settings come from the "linreg:*" context keys (see settings.py and docs/deploy.md); override
one for a single run with e.g. `cdk synth -c linreg:memoryMb=2048`. cdk-nag's AWS Solutions
checks run on every synthesis: an unsuppressed error stops it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

# Anchored to this file, so the app synthesizes the same way from any working directory.
REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC_DIR = REPO_ROOT / "lambda_src"
# The stack takes the names it shares with the function from the library (linreg.contract).
if str(LAMBDA_SRC_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_SRC_DIR))

from linreg_stack import LinregStack  # noqa: E402
from settings import Settings, SettingsError  # noqa: E402


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
    try:
        app = build_app()
    except SettingsError as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
