"""The built function image, run the way Lambda runs it (`make image-test`).

One container serves four events through the image's real ENTRYPOINT (awslambdaric) and a
stand-in Runtime API, with what Lambda imposes: a read-only root with a writable /tmp
only, an arbitrary unprivileged uid that is not the image's USER, the stack's memory as a
memory limit and its CPU share, and the function's environment from the synthesized
template. S3 is a moto server on 127.0.0.1. The events: the sample upload, the same again
(a duplicate delivery), the URL-encoded key, and an upload missing a column.

Needs Docker and the image (LINREG_IMAGE, default linreg:local) built for the function's
architecture (LINREG_ARCHITECTURE, default the stack's): `make image-test` builds the
default one and provides an engine; `make test` leaves these tests out (marker `image`).
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from helpers import fake_client_keys, s3_server
from linreg_infra import lambda_image
from linreg_infra.function import MB_PER_VCPU
from runtime_api import RuntimeAPI

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.image

IMAGE = os.environ.get("LINREG_IMAGE", lambda_image.DEFAULT_TAG)
ARCHITECTURE = os.environ.get("LINREG_ARCHITECTURE")  # None: the stack's own
EVENTS = REPO_ROOT / "events"
BAD_EVENT = REPO_ROOT / "tests" / "data" / "events" / "s3-put-missing-column.json"
IRIS = (REPO_ROOT / "data" / "iris.csv").read_bytes()
MISSING_COLUMN = (REPO_ROOT / "tests" / "data" / "corpus" / "missing_column.csv").read_bytes()
BUCKET = "linreg-demo"  # the bucket every event above names
REGION = "us-east-1"
FAKE_KEYS = fake_client_keys()
FUNCTION_NAME = "linreg-train"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
# Long enough for a cold start on a busy machine, short enough to fail a hung function.
SESSION_TIMEOUT_SECONDS = 240


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [lambda_image.docker(), *args], capture_output=True, text=True, check=check
    )


def event(path: Path) -> dict:
    return json.loads(path.read_text())


def key_of(path: Path) -> str:
    """The decoded key an event file names."""
    from urllib.parse import unquote_plus

    return unquote_plus(event(path)["Records"][0]["s3"]["object"]["key"])


@dataclass
class Session:
    """What one container did with the four events."""

    api: RuntimeAPI
    started: float  # when `docker run` was issued
    logs: str
    s3: object

    @property
    def cold_init_seconds(self) -> float:
        """From `docker run` to the runtime's first poll: container start, imports, init."""
        return self.api.first_poll - self.started

    def outcome(self, n: int) -> dict:
        (outcome,) = self.api.invocations[n].body["outcomes"]
        return outcome

    def object_keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="module")
def function(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The function's settings as the stack synthesizes them."""
    template = lambda_image.synthesize(
        tmp_path_factory.mktemp("cdk.out"), architecture=ARCHITECTURE
    )
    settings = lambda_image.function_settings(template)
    settings["platform"] = lambda_image.image_asset(template)["platform"]
    return settings


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 holding the uploads the events name."""
    with s3_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **FAKE_KEYS)
        s3.create_bucket(Bucket=BUCKET)
        for path in (EVENTS / "s3-put.json", EVENTS / "s3-put-encoded-key.json"):
            s3.put_object(Bucket=BUCKET, Key=key_of(path), Body=IRIS)
        s3.put_object(Bucket=BUCKET, Key=key_of(BAD_EVENT), Body=MISSING_COLUMN)
        yield endpoint


def lambda_environment(function: dict, runtime_api: str, s3_endpoint: str) -> dict:
    """The template's variables, what Lambda itself sets, fake keys and the local endpoints."""
    return {
        **function["environment"],
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["memory_mb"]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "image-test",
        "AWS_LAMBDA_LOG_FORMAT": function["log_format"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        **{name.upper(): value for name, value in FAKE_KEYS.items()},
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
    }


def run_flags(function: dict, uid: int) -> list[str]:
    """What Lambda imposes on the container."""
    cpus = function["memory_mb"] / MB_PER_VCPU
    return [
        "--network=host",
        "--read-only",
        f"--tmpfs=/tmp:rw,size={function['tmp_mb']}m,mode=1777",
        f"--user={uid}:{uid}",
        f"--memory={function['memory_mb']}m",
        f"--memory-swap={function['memory_mb']}m",
        f"--cpus={cpus:.2f}",
    ]


@pytest.fixture(scope="module")
def session(
    function: dict, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory, request
) -> Iterator[Session]:
    """One container, four events; stopped and removed afterwards, whatever happened."""
    assert docker("image", "inspect", IMAGE, check=False).returncode == 0, (
        f"no image {IMAGE}: run `make image-test`, which builds it"
    )
    api = RuntimeAPI(
        events=[
            event(EVENTS / "s3-put.json"),
            event(EVENTS / "s3-put.json"),
            event(EVENTS / "s3-put-encoded-key.json"),
            event(BAD_EVENT),
        ],
        function_arn=FUNCTION_ARN,
        timeout_seconds=function["timeout_seconds"],
    )
    api.start()
    env_file = tmp_path_factory.mktemp("lambda") / "env"
    environment = lambda_environment(function, api.address, s3_endpoint)
    env_file.write_text("".join(f"{name}={value}\n" for name, value in environment.items()))
    # Not the image's USER (10001), and no user of the image's /etc/passwd.
    uid = random.randint(20000, 60000)
    name = f"linreg-image-test-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    docker("run", "--detach", f"--name={name}", f"--env-file={env_file}",
           *run_flags(function, uid), IMAGE)  # fmt: skip
    try:
        finished = api.wait(SESSION_TIMEOUT_SECONDS)
        logs = docker("logs", name, check=False)
        assert finished, f"the function did not answer every event:\n{logs.stdout}{logs.stderr}"
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **FAKE_KEYS)
        result = Session(api=api, started=started, logs=logs.stdout + logs.stderr, s3=s3)
        report_timings(request, result, uid)
        yield result
    finally:
        docker("rm", "--force", name, check=False)
        api.stop()


def report_timings(request, session: Session, uid: int) -> None:
    """Print the cold init and per-event times, past pytest's output capture."""
    lines = [
        f"image {IMAGE}, uid {uid}: cold init {session.cold_init_seconds:.2f} s "
        "(docker run to the first poll)"
    ]
    names = ["s3-put", "s3-put again (duplicate)", "s3-put-encoded-key", "missing column"]
    for label, invocation in zip(names, session.api.invocations, strict=True):
        lines.append(f"  {label}: {invocation.seconds:.2f} s")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


# --- what the function answered -----------------------------------------------------------


def test_image_is_built_for_the_functions_platform(function: dict) -> None:
    inspected = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", IMAGE)

    assert inspected.stdout.strip() == function["platform"]


def test_init_succeeds_and_every_event_gets_a_response(session: Session) -> None:
    assert session.api.init_error is None
    assert [invocation.kind for invocation in session.api.invocations] == ["response"] * 4


def test_first_delivery_publishes_a_complete_run(session: Session) -> None:
    outcome = session.outcome(0)
    files = {"params.json", "params.nd", "model.sql", "report.json", "report.html", "loss.png"}

    assert outcome["status"] == "succeeded" and not outcome.get("duplicate")
    assert {outcome["prefix"] + name for name in files} <= set(session.object_keys())
    latest = json.loads(
        session.s3.get_object(Bucket=BUCKET, Key="models/iris/latest.json")["Body"].read()
    )
    assert latest["run_id"] == outcome["run_id"]


def test_second_delivery_is_a_duplicate_of_the_first(session: Session) -> None:
    first, second = session.outcome(0), session.outcome(1)

    assert second["status"] == "succeeded" and second["duplicate"] is True
    assert second["run_id"] == first["run_id"]


def test_encoded_key_trains_the_decoded_upload(session: Session) -> None:
    outcome = session.outcome(2)

    assert outcome["key"] == "incoming/field trials/iris été 2026.csv"
    assert outcome["status"] == "succeeded"
    assert outcome["prefix"].startswith("models/field trials/iris été 2026/")
    assert outcome["prefix"] + "report.json" in session.object_keys()


def test_bad_upload_answers_normally_with_a_failure_record(session: Session) -> None:
    outcome = session.outcome(3)

    assert (outcome["status"], outcome["code"]) == ("failed", "missing_columns")
    record = json.loads(
        session.s3.get_object(Bucket=BUCKET, Key=outcome["failure_key"])["Body"].read()
    )
    assert record["error"]["code"] == "missing_columns"
    # No run files: only the model's page, which lists the failed run.
    assert [
        key for key in session.object_keys() if key.startswith("models/iris-missing-column/")
    ] == ["models/iris-missing-column/index.html"]


def test_function_writes_only_its_outputs(session: Session) -> None:
    uploads = {key_of(EVENTS / "s3-put.json"), key_of(EVENTS / "s3-put-encoded-key.json")}
    uploads.add(key_of(BAD_EVENT))

    others = [
        key
        for key in session.object_keys()
        if key not in uploads and not key.startswith(("models/", "failures/"))
    ]
    assert others == []


def test_function_logs_are_json_without_errors(session: Session) -> None:
    records = [json.loads(line) for line in session.logs.splitlines() if line.startswith("{")]
    not_json = [line for line in session.logs.splitlines() if line and not line.startswith("{")]

    assert records, session.logs
    assert not_json == []
    assert [r for r in records if r.get("level") in ("ERROR", "CRITICAL")] == []


# --- what the image holds -----------------------------------------------------------------


def run_python(code: str, *, uid: int = 43210) -> subprocess.CompletedProcess:
    """The image's interpreter, as an arbitrary uid on a read-only root."""
    return docker(
        "run", "--rm", "--network=none", "--read-only", "--tmpfs=/tmp:rw,mode=1777",
        f"--user={uid}:{uid}", "--entrypoint=/opt/venv/bin/python", IMAGE, "-c", code,
        check=False,
    )  # fmt: skip


def test_the_function_sees_the_cpus_its_container_is_limited_to(
    session: Session, function: dict
) -> None:
    # --cpus as Lambda gives them (1.16 at 2,048 MB): the cgroup says it, not os.cpu_count.
    records = [json.loads(line) for line in session.logs.splitlines() if line.startswith("{")]
    (seen,) = [record for record in records if record.get("message") == "cpus"]
    quota = function["memory_mb"] / MB_PER_VCPU
    assert seen["cgroup_quota"] == pytest.approx(quota, abs=0.01)
    assert seen["available"] == min(seen["affinity"], math.ceil(round(quota, 2)))


def test_cold_start_reads_the_font_cache_built_into_the_image() -> None:
    # matplotlib says at DEBUG level whether it read a cache or built a new font list.
    result = run_python(
        "import logging; logging.basicConfig(level=logging.DEBUG)\n"
        "import linreg.handler, matplotlib.font_manager"
    )

    assert result.returncode == 0, result.stderr
    assert "Using fontManager instance from /tmp/matplotlib/" in result.stderr
    assert "generated new fontManager" not in result.stderr


def test_runtime_has_no_pip_setuptools_or_build_certificates() -> None:
    result = run_python(
        "import importlib.util, os\n"
        "print(importlib.util.find_spec('pip'), importlib.util.find_spec('setuptools'))\n"
        "print(os.path.exists('/etc/pip.conf'), os.listdir('/usr/local/share/ca-certificates'))"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["None None", "False []"]


def test_runtime_has_no_development_room_and_no_moto() -> None:
    result = run_python(
        "import importlib.util\n"
        "print(importlib.util.find_spec('linreg.local'), importlib.util.find_spec('moto'))"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None None"
