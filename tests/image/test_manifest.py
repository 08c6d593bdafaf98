"""What a deploy pushes: the image asset, built as `cdk deploy` builds it, is one
single-platform image manifest, which Lambda accepts, not an OCI index.

Run by `make image-test` against a private engine like a current Docker install (the
containerd image store and buildx: image/with-current-docker.sh), which attaches a
provenance attestation to every build unless told not to; the control test shows that it
does. The registry is Debian's docker-registry on 127.0.0.1, read through its HTTP API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from linreg_infra import lambda_image

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.image

REGISTRY = "/usr/bin/docker-registry"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Every kind at once, as Lambda's or any current client asks: the registry then answers
# with what was pushed (asking for one kind only may get a 404 or a conversion).
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])


def docker(*args: str, env: dict | None = None, cwd: Path | None = None) -> None:
    result = subprocess.run(
        [lambda_image.docker(), *args], capture_output=True, text=True, env=env, cwd=cwd
    )
    assert result.returncode == 0, f"docker {args[0]} failed:\n{result.stdout}{result.stderr}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, accept: str = ACCEPT) -> tuple[str, dict]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Content-Type"], json.loads(response.read())


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's registry on a free port of 127.0.0.1 (Docker pushes there over plain HTTP)."""
    assert Path(REGISTRY).exists(), "needs Debian's docker-registry (make image-test installs it)"
    folder = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    server = subprocess.Popen(
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=30)


def pushed_manifest(registry: str, reference: str) -> tuple[str, dict]:
    name, tag = reference.removeprefix(registry + "/").split(":")
    docker("push", reference)
    return get(f"http://{registry}/v2/{name}/manifests/{tag}")


def test_control_engine_attests_a_build_left_at_its_defaults(registry, tmp_path) -> None:
    # Without this the test below could pass on an engine that never attests.
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    (tmp_path / "hello").write_text("hello\n")
    reference = f"{registry}/control:defaults"
    env = {k: v for k, v in os.environ.items() if k != "BUILDX_NO_DEFAULT_ATTESTATIONS"}
    network = ["--network", "host"] if os.environ.get("DOCKER_NETWORK") == "host" else []
    docker("build", *network, "--tag", reference, ".", env=env, cwd=tmp_path)

    content_type, manifest = pushed_manifest(registry, reference)

    assert content_type == OCI_INDEX, (
        "this engine does not attest builds; run the test through image/with-current-docker.sh"
    )
    kinds = [
        m.get("annotations", {}).get("vnd.docker.reference.type") for m in manifest["manifests"]
    ]
    assert "attestation-manifest" in kinds


def test_function_image_asset_is_pushed_as_a_single_platform_manifest(registry) -> None:
    reference = f"{registry}/linreg:asset"
    lambda_image.build(reference)

    content_type, manifest = pushed_manifest(registry, reference)

    assert content_type in (DOCKER_MANIFEST, OCI_MANIFEST)
    assert manifest["mediaType"] == content_type and "manifests" not in manifest
    _, config = get(
        f"http://{registry}/v2/linreg/blobs/{manifest['config']['digest']}", accept="*/*"
    )
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
