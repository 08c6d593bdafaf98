"""Fixtures for the CDK app's tests: two synthesized apps, once per session.

Synthesis needs no Docker and no AWS account: the function's image asset is only staged.
It is slow (a Node.js process starts behind aws-cdk-lib, and `Annotations.from_stack`
synthesizes again every time), and so is cfn-lint; so each app is built once, through the
same `build_app` that `cdk synth` runs (cdk-nag included), and its template, cdk-nag
annotations and cfn-lint findings are kept for the session:

- "default": cdk.json's context as it is;
- "configured": every `linreg:*` key set, as strings, the way `-c` passes them.

The CDK app is the package linreg_infra (infra/linreg_infra), installed in the venv with
the library.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Template
from cfnlint.api import ManualArgs, lint_file

from helpers import ROOT, scale_out_environment
from linreg_infra.app import build_app

CDK_JSON_CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]
CONFIGURED = {
    "linreg:stackName": "LinregConfigured",
    "linreg:memoryMb": "3538",
    "linreg:timeoutSeconds": "600",
    "linreg:reservedConcurrency": "3",
    "linreg:maxConcurrency": "2",
    "linreg:incomingPrefix": "uploads/",
    "linreg:modelsPrefix": "results/models/",
    "linreg:failuresPrefix": "results/failures/",
    "linreg:predictPrefix": "to-score/",
    "linreg:predictionsPrefix": "results/predictions/",
    "linreg:dataset": "diabetes",
    "linreg:preset": "converged",
    "linreg:learningRate": "0.05",
    "linreg:iterations": "500",
    "linreg:seed": "7",
    "linreg:loss": "sum",
    "linreg:engine": "tutorial",
    "linreg:tolerance": "1e-05",
    "linreg:testSize": "0.25",
    "linreg:maxInputBytes": "1048576",
    "linreg:maxIterations": "20000",
    "linreg:uploadSettings": "learning-rate, preset,iterations",
    "linreg:logRetentionDays": "90",
    "linreg:noncurrentVersionDays": "30",
    "linreg:accessLogExpirationDays": "180",
    "linreg:destroyOnDelete": "true",
    "linreg:alarmEmail": "ops@example.com",
    "linreg:distributedAboveBytes": "134217728",
    "linreg:partBytes": "33554432",
    "linreg:maxParallelParts": "3",
    "linreg:maxParts": "500",
    "linreg:distributedTimeoutSeconds": "7200",
    "linreg:architecture": "x86_64",
    "linreg:eventBusName": "linreg-runs",
    "linreg:notifyEmail": "runs@example.com",
    "linreg:promotion": "Near-Optimum:5",
    "linreg:pricePerGbSecond": "0.0000133334",
    "linreg:pricePerRequest": "2e-7",
    "linreg:pricePerTransition": "0",
    "linreg:tags": "team=ml, cost-center=4711,project=forecasts",
}
APPS = ("default", "configured")


def synthesize(tmp_path_factory: pytest.TempPathFactory, overrides: dict) -> cdk.Stack:
    """The one stack of a new app built with cdk.json's context plus ``overrides``."""
    context = {**CDK_JSON_CONTEXT, **overrides}
    app = build_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    return stack


def lint(template: Template, directory: Path) -> list:
    """cfn-lint's findings on ``template`` (for us-east-1)."""
    path = directory / "template.json"
    path.write_text(json.dumps(template.to_json()))
    return lint_file(path, config=ManualArgs(regions=["us-east-1"]))


def for_app(request: pytest.FixtureRequest, fixture: str) -> object:
    """The default app's ``fixture`` or its "configured_" twin, by the parameter."""
    return request.getfixturevalue(
        {"default": "", "configured": "configured_"}[request.param] + fixture
    )


# --- the default app ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    return synthesize(tmp_path_factory, {})


@pytest.fixture(scope="session")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def resources(template: Template) -> dict:
    return template.to_json()["Resources"]


@pytest.fixture(scope="session")
def annotations(stack: cdk.Stack) -> Annotations:
    return Annotations.from_stack(stack)


@pytest.fixture(scope="session")
def lint_findings(template: Template, tmp_path_factory: pytest.TempPathFactory) -> list:
    return lint(template, tmp_path_factory.mktemp("lint"))


# --- the configured app -------------------------------------------------------------------


@pytest.fixture(scope="session")
def configured_context() -> dict:
    """The context the configured app overrides cdk.json's with."""
    return dict(CONFIGURED)


@pytest.fixture(scope="session")
def configured_stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    return synthesize(tmp_path_factory, CONFIGURED)


@pytest.fixture(scope="session")
def configured_template(configured_stack: cdk.Stack) -> Template:
    return Template.from_stack(configured_stack)


@pytest.fixture(scope="session")
def configured_resources(configured_template: Template) -> dict:
    return configured_template.to_json()["Resources"]


@pytest.fixture(scope="session")
def configured_annotations(configured_stack: cdk.Stack) -> Annotations:
    return Annotations.from_stack(configured_stack)


@pytest.fixture(scope="session")
def configured_lint_findings(
    configured_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> list:
    return lint(configured_template, tmp_path_factory.mktemp("lint"))


@pytest.fixture
def own_configured_stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    """A configured app of the test's own, not yet synthesized: for a test that adds an
    aspect, which must not leak into the shared apps."""
    return synthesize(tmp_path_factory, CONFIGURED)


# --- a third app: only linreg:notifyEmail ----------------------------------------------------


@pytest.fixture(scope="session")
def notify_only_resources(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The resources of an app with only linreg:notifyEmail set: the run mail's rules on the
    default bus, and no alarm topic beside its own."""
    stack = synthesize(tmp_path_factory, {"linreg:notifyEmail": "me@example.com"})
    return Template.from_stack(stack).to_json()["Resources"]


# --- either app: the test runs once for each ----------------------------------------------


@pytest.fixture(scope="session", params=APPS)
def any_annotations(request: pytest.FixtureRequest) -> Annotations:
    return for_app(request, "annotations")


@pytest.fixture(scope="session", params=APPS)
def any_lint_findings(request: pytest.FixtureRequest) -> list:
    return for_app(request, "lint_findings")


# --- a distributed run's function environment ----------------------------------------------


@pytest.fixture
def scale_out_env(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Uploads above 1 MiB go to the state machine, in parts of 1 MiB."""
    return scale_out_environment(monkeypatch, part_bytes=1 << 20)


# --- the tier -------------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the synthesized apps (Node.js, cdk-nag and cfn-lint: most of a
    minute per session) or runs the state machine in moto: all are ``slow``, left out of
    ``make test-fast``. The hook sees the whole session's items; it marks this folder's."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
