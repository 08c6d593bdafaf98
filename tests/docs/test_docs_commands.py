"""Every command the README and docs/ show that needs no AWS account runs, in the order a
reader meets them, in a fresh folder with the checkout's data and events: a documented
command cannot drift from what the code does."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# What a reader has to bring that a local setup stands in for.
PLACEHOLDERS = {
    "s3://<bucket>/models/iris": "demo-output/models/iris",
    "linreg predict MODEL new.csv": "linreg predict model data/iris.csv",
    "[--links] [--html FILE]": "--html page.html",
}
# Commands that need what a test cannot have, each with why; anything else is run.
NOT_RUN = {
    "make ": "the install and the suite itself, or Docker and AWS (CI runs make image-test)",
    "cdk ": "an AWS account",
    "aws ": "an AWS account",
    "export PATH": "changes the reader's shell only",
    ".venv/bin/python bench/": "a benchmark of minutes (docs/performance.md gives its figures)",
}


def commands() -> list[tuple[str, str]]:
    """(document, command line) of every shell block, placeholders filled."""
    found = []
    for document in DOCUMENTS:
        text = document.read_text()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if not line or line.startswith("#"):
                    continue
                for placeholder, value in PLACEHOLDERS.items():
                    line = line.replace(placeholder, value)
                found.append((document.name, line))
    return found


def why_not_run(line: str) -> str | None:
    if "$(aws" in line or "<" in line:
        return "an AWS account"
    return next((why for start, why in NOT_RUN.items() if line.startswith(start)), None)


def test_every_command_is_run_or_says_why_not():
    assert all(
        why_not_run(line) or line.startswith(("linreg ", "python ")) for _, line in commands()
    )


@pytest.mark.slow
def test_the_documented_commands_run_in_order(tmp_path):
    for folder in ("data", "events"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = []
    for document, line in commands():
        if why_not_run(line):
            continue
        done = subprocess.run(
            line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{document}: {line}\n{done.stdout}\n{done.stderr}"
        ran.append(line)
    assert any("--distributed-above" in line for line in ran)
    assert any(line.startswith("linreg runs") for line in ran)


@pytest.mark.parametrize("line", ["make demo", "aws s3 cp x s3://b/k", "cdk deploy"])
def test_commands_that_need_aws_or_the_install_are_not_run(line):
    assert why_not_run(line)
