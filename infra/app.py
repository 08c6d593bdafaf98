"""CDK entry point, run by `cdk synth` / `cdk deploy` through the "app" line of cdk.json.

Settings come from the "linreg:*" context keys in cdk.json; override one for a single run
with e.g. `cdk synth -c linreg:memoryMb=2048`.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from linreg_stack import LinregStack

# Anchored to this file, so the app synthesizes the same way from any working directory.
REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC_DIR = REPO_ROOT / "lambda_src"


def build_app() -> cdk.App:
    app = cdk.App()
    # Values given with -c on the command line arrive as strings, hence the int().
    LinregStack(
        app,
        app.node.get_context("linreg:stackName"),
        lambda_src_dir=LAMBDA_SRC_DIR,
        memory_mb=int(app.node.get_context("linreg:memoryMb")),
        timeout=cdk.Duration.seconds(int(app.node.get_context("linreg:timeoutSeconds"))),
        description="linreg: train an MXNet linear regression on CSVs uploaded to S3",
    )
    return app


if __name__ == "__main__":
    build_app().synth()
