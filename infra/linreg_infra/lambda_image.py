"""The function image as `cdk deploy` builds it, built and described here.

`cdk deploy` stages the Docker build context into the cloud assembly and then runs
`docker build` with the asset's options (cdk-assets). This module synthesizes the same
app, finds the same asset and runs the same command, so the image built here is the one a
deploy would push. It also reads the function's settings (environment, memory, timeout)
from the synthesized template for `make image-test`, instead of retyping them.

    python -m linreg_infra.lambda_image build [--architecture arm64] [--tag linreg:local]
        [--private-files]
    python -m linreg_infra.lambda_image deploy [CDK DEPLOY ARGUMENTS...]

`--architecture` synthesizes with `linreg:architecture` set, so the image is built for that
function's platform; a foreign platform builds under emulation (image/emulation.sh).
Where the base image cannot be pulled (no route to Docker Hub), the build uses local
stand-ins for it, made by image/base-standin.sh (docs/image.md says what differs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

# The checkout this package lies in (infra/linreg_infra/): the Dockerfile, and image/'s scripts.
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "lambda_src" / "Dockerfile"
STANDIN_SCRIPT = REPO_ROOT / "image" / "base-standin.sh"
EMULATION_SCRIPT = REPO_ROOT / "image" / "emulation.sh"
STANDIN_TAG = "linreg-base:standin"
DEFAULT_TAG = "linreg:local"
ARCHITECTURE_KEY = "linreg:architecture"
# What cdk-assets sets for its builds: no provenance attestation, whose OCI index Lambda
# refuses. `make deploy` sets it too, for CDK CLIs that do not.
BUILD_ENV = {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}
# The asset source fields `cdk_build_command` turns into flags; any other field means the
# stack asks for something this module would not reproduce, so it stops instead.
KNOWN_SOURCE_FIELDS = {"directory", "dockerFile", "platform", "dockerBuildArgs"}


def docker() -> str:
    """The Docker client: $DOCKER (set by image/with-docker.sh), else CDK's choice."""
    return os.environ.get("DOCKER") or os.environ.get("CDK_DOCKER") or "docker"


def synthesize(outdir: Path, *, architecture: str | None = None) -> Path:
    """Synthesize the app with cdk.json's context (and `architecture`, if given) into
    `outdir`; returns the template path."""
    from linreg_infra.app import build_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    if architecture is not None:
        context = {**context, ARCHITECTURE_KEY: architecture}
    assembly = build_app(context=context, outdir=str(outdir)).synth()
    (stack,) = assembly.stacks
    return Path(stack.template_full_path)


def image_asset(template_path: Path) -> dict:
    """The stack's one Docker image asset source, its directory made absolute."""
    manifest = template_path.with_name(template_path.name.replace(".template.", ".assets."))
    assets = json.loads(manifest.read_text())
    (asset,) = assets["dockerImages"].values()
    source = dict(asset["source"])
    unknown = set(source) - KNOWN_SOURCE_FIELDS
    if unknown:
        raise SystemExit(f"the image asset uses {sorted(unknown)}: teach lambda_image.py them")
    source["directory"] = str(template_path.parent / source["directory"])
    return source


def cdk_build_command(source: dict, tag: str) -> list[str]:
    """`docker build` as cdk-assets runs it for this asset (in its directory)."""
    command = [docker(), "build"]
    for name, value in source.get("dockerBuildArgs", {}).items():
        command += ["--build-arg", f"{name}={value}"]
    command += ["--tag", tag]
    if "dockerFile" in source:
        command += ["--file", source["dockerFile"]]
    if "platform" in source:
        command += ["--platform", source["platform"]]
    return [*command, "."]


def function_settings(template_path: Path) -> dict:
    """The image function's environment, memory, timeout, /tmp size and log format."""
    resources = json.loads(template_path.read_text())["Resources"]
    (function,) = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("PackageType") == "Image"
    ]
    environment = {
        name: _resolved(value)
        for name, value in function.get("Environment", {}).get("Variables", {}).items()
    }
    unresolved = [name for name, value in environment.items() if not isinstance(value, str)]
    if unresolved:
        raise SystemExit(f"environment values only known at deploy time: {unresolved}")
    return {
        "environment": environment,
        "memory_mb": function.get("MemorySize", 128),
        "timeout_seconds": function.get("Timeout", 3),
        "tmp_mb": function.get("EphemeralStorage", {}).get("Size", 512),
        "log_format": function.get("LoggingConfig", {}).get("LogFormat", "Text"),
    }


# What the pseudo parameters stand for when the image runs here.
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


def _resolved(value: object) -> object:
    """A value with its pseudo parameters and joins resolved (an ARN built from them);
    anything else only deploy time knows stays as it is."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return PSEUDO_PARAMETERS.get(value["Ref"], value)
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        parts = [_resolved(part) for part in parts]
        if all(isinstance(part, str) for part in parts):
            return separator.join(parts)
    return value


def default_base() -> str:
    """The Dockerfile's own BASE_IMAGE."""
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "lambda_src/Dockerfile has no ARG BASE_IMAGE=..."
    return match.group(1)


def base_build_args(env: Mapping[str, str], platform: str) -> list[str]:
    """Build arguments that swap in local stand-ins when the base cannot be pulled."""
    base = default_base()
    inspect = [docker(), "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", base]
    have = subprocess.run(inspect, capture_output=True, text=True)
    if have.returncode == 0 and have.stdout.strip() == platform:
        return []
    pull = [docker(), "pull", "--quiet", "--platform", platform, base]
    if subprocess.run(pull, capture_output=True, env=env).returncode == 0:
        return []
    print(f"image: {base} cannot be pulled here; using local stand-ins", file=sys.stderr)

    # One tag per platform: a local image store keeps one platform under a tag. The build
    # stage runs on this machine's platform, the runtime stage on the target's.
    def standin(each: str) -> str:
        return f"{STANDIN_TAG}-{each.removeprefix('linux/')}"

    for each in {platform, host_platform()}:
        subprocess.run([str(STANDIN_SCRIPT), standin(each), each], check=True, env=env)
    return [
        "--build-arg",
        f"BASE_IMAGE={standin(platform)}",
        "--build-arg",
        f"BUILD_BASE_IMAGE={standin(host_platform())}-build",
    ]


def can_set_up_emulation() -> bool:
    """Root on Debian: image/emulation.sh can register QEMU. Elsewhere the engine's own
    emulation (Docker Desktop's) is used, or its error says what is missing."""
    return os.geteuid() == 0 and Path("/etc/debian_version").exists()


def host_platform() -> str:
    machine = os.uname().machine
    return "linux/" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def make_private(directory: Path) -> None:
    """Modes as a checkout made under `umask 077` has them: 0600 files, 0700 folders."""
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


def build(tag: str, *, architecture: str | None = None, private_files: bool = False) -> None:
    env = {**os.environ, **BUILD_ENV}
    with tempfile.TemporaryDirectory(prefix="linreg-cdk.out.") as outdir:
        source = image_asset(synthesize(Path(outdir), architecture=architecture))
        if private_files:
            make_private(Path(source["directory"]))
        platform = source["platform"]
        if platform != host_platform() and can_set_up_emulation():
            subprocess.run([str(EMULATION_SCRIPT), platform.removeprefix("linux/")], check=True)
        command = cdk_build_command(source, tag)
        # Local additions, before the context argument: the engine image/with-docker.sh
        # starts has no bridge network, and the stand-ins replace an unreachable base.
        extra = ["--network", "host"] if os.environ.get("DOCKER_NETWORK") == "host" else []
        command[-1:-1] = extra + base_build_args(env, platform)
        print("image: " + " ".join(command), file=sys.stderr)
        started = time.monotonic()
        subprocess.run(command, cwd=source["directory"], env=env, check=True)
    size = subprocess.run(
        [docker(), "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    took = time.monotonic() - started
    print(f"image: built {tag}, {int(size) / 1e6:.0f} MB, in {took:.0f} s", file=sys.stderr)


def deploy(cdk_args: list[str]) -> None:
    """`cdk deploy` with the build settings above, whatever the CDK CLI's own."""
    os.execvpe("cdk", ["cdk", "deploy", *cdk_args], {**os.environ, **BUILD_ENV})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="cdk deploy, attestations off")
    deploy_parser.add_argument("cdk_args", nargs=argparse.REMAINDER)
    build_parser = commands.add_parser("build", help="build the image as cdk deploy does")
    build_parser.add_argument("--tag", default=DEFAULT_TAG)
    build_parser.add_argument(
        "--architecture", help="the function's (linreg:architecture); default: the stack's"
    )
    build_parser.add_argument(
        "--private-files",
        action="store_true",
        help="build from files only their owner may read, as under umask 077",
    )
    args = parser.parse_args()
    if args.command == "deploy":
        deploy(args.cdk_args)
    else:
        build(args.tag, architecture=args.architecture, private_files=args.private_files)


if __name__ == "__main__":
    main()
