"""scripts/check_python.py: make demo's one line for an interpreter that cannot work."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_python.py"
PYPROJECT = SCRIPT.parent.parent / "pyproject.toml"
spec = importlib.util.spec_from_file_location("check_python", SCRIPT)
check_python = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_python)

RANGE = {"lowest": (3, 11), "beyond": (3, 14)}


def test_the_range_is_pyprojects_requires_python():
    requires = tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"]
    lowest, beyond = check_python.supported_range(PYPROJECT.read_text())
    assert requires == f">={lowest[0]}.{lowest[1]},<{beyond[0]}.{beyond[1]}"


@pytest.mark.parametrize("minor", [11, 12, 13])
def test_a_supported_python_passes(minor):
    assert check_python.problem((3, minor), "Linux", "x86_64", **RANGE) is None


@pytest.mark.parametrize("minor", [10, 14])
def test_a_python_outside_the_range_is_told_the_range(minor):
    line = check_python.problem((3, minor), "Linux", "x86_64", **RANGE)
    assert "needs Python 3.11–3.13" in line and f"Python 3.{minor}" in line


def test_apple_silicon_is_told_to_use_an_x86_64_python_or_docker():
    line = check_python.problem((3, 12), "Darwin", "arm64", **RANGE)
    assert "Apple silicon" in line and "Rosetta" in line and "Docker" in line


def test_intel_macos_and_arm64_linux_with_arm_performance_libraries_pass():
    assert check_python.problem((3, 12), "Darwin", "x86_64", **RANGE) is None
    assert check_python.problem((3, 13), "Linux", "aarch64", has_armpl=True, **RANGE) is None


def test_arm64_linux_without_arm_performance_libraries_is_told_what_mxnet_links():
    line = check_python.problem((3, 13), "Linux", "aarch64", has_armpl=False, **RANGE)
    assert "libarmpl_lp64_mp.so" in line and "x86_64" in line and "\n" not in line


def test_only_arm64_linux_looks_for_arm_performance_libraries():
    assert check_python.has_armpl("Linux", "x86_64") and check_python.has_armpl("Darwin", "x86_64")


def test_windows_is_told_where_mxnet_runs():
    line = check_python.problem((3, 12), "Windows", "AMD64", **RANGE)
    assert "Linux" in line and "macOS" in line


def test_a_python_without_venv_is_told_the_package():
    line = check_python.problem((3, 13), "Linux", "x86_64", has_venv=False, **RANGE)
    assert "apt install python3-venv" in line


def test_missing_openmp_is_told_the_package():
    line = check_python.problem((3, 13), "Linux", "x86_64", libraries=["libgomp1"], **RANGE)
    assert "apt install libgomp1" in line


def test_every_problem_is_one_line():
    lines = [
        check_python.problem((3, 9), "Linux", "x86_64", **RANGE),
        check_python.problem((3, 12), "Darwin", "arm64", **RANGE),
        check_python.problem((3, 12), "Windows", "AMD64", **RANGE),
    ]
    assert all("\n" not in line for line in lines)


def test_this_interpreter_passes_and_says_nothing():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
