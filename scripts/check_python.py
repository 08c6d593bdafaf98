"""Can this interpreter run linreg? The Makefile asks before it makes the venv.

    python3 scripts/check_python.py

Exits 0 silently when it can; otherwise prints one line saying what to do and exits 1.
Written for any Python 3 (no f-strings, no tomllib), because its job is to
speak to interpreters the project does not support.
"""
# ruff: noqa: UP031 (%-formatting on purpose: it parses on every Python 3)

import ctypes.util
import os
import platform
import re
import sys

PYPROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyproject.toml")
# Where mxnet 1.9.1 (the last release) publishes wheels: (system, machine) pairs.
MXNET_PLATFORMS = {("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "x86_64")}


def supported_range(pyproject_text):
    """(lowest, first unsupported) minor versions from requires-python, e.g. ((3, 11), (3, 14))."""
    match = re.search(r'requires-python\s*=\s*">=(\d+)\.(\d+),<(\d+)\.(\d+)"', pyproject_text)
    if not match:
        raise SystemExit("check_python: pyproject.toml has no requires-python >=X.Y,<X.Z")
    a, b, c, d = (int(part) for part in match.groups())
    return (a, b), (c, d)


def problem(
    version, system, machine, *, lowest, beyond, has_venv=True, libraries=(), has_armpl=True
):
    """The one line to print for this interpreter, or None when it can run linreg."""
    found = "Python %d.%d (%s %s)" % (version[0], version[1], system, machine)
    wanted = "%d.%d–%d.%d" % (lowest[0], lowest[1], beyond[0], beyond[1] - 1)
    if system == "Darwin" and machine == "arm64":
        return (
            "%s: mxnet has no wheel for Apple silicon; use an x86_64 Python under Rosetta "
            "(make demo PYTHON=/path/to/x86_64/python3) or Docker (see README, Prerequisites)"
            % found
        )
    if (system, machine) not in MXNET_PLATFORMS:
        return "%s: mxnet publishes wheels for x86_64 and arm64 Linux and x86_64 macOS only" % found
    if system == "Linux" and machine == "aarch64" and not has_armpl:
        return (
            "%s: mxnet's arm64 wheel links Arm Performance Libraries (libarmpl_lp64_mp.so), "
            "which it does not ship and Debian and Ubuntu do not package; install them from "
            "Arm, or use an x86_64 machine (see README, Prerequisites)" % found
        )
    if not lowest <= tuple(version[:2]) < beyond:
        return "%s: linreg needs Python %s; install one and run make demo PYTHON=python3.X" % (
            found,
            wanted,
        )
    if not has_venv:
        return "%s has no venv module: install it (Debian/Ubuntu: apt install python3-venv)" % found
    missing = list(libraries)
    if missing:
        return "%s: mxnet needs %s (Debian/Ubuntu: apt install %s)" % (
            found,
            " and ".join(missing),
            " ".join(missing),
        )
    return None


def missing_libraries(system, machine):
    """The system libraries libmxnet.so links that the loader cannot find (Linux only;
    libquadmath on x86_64 only, where the libgfortran mxnet bundles links it)."""
    if system != "Linux":
        return []
    wanted = {"gomp": "libgomp1"}
    if machine == "x86_64":
        wanted["quadmath"] = "libquadmath0"
    return [
        package for name, package in sorted(wanted.items()) if not ctypes.util.find_library(name)
    ]


def has_armpl(system, machine):
    """Whether the loader finds the Arm Performance Libraries mxnet's aarch64 build links."""
    if (system, machine) != ("Linux", "aarch64"):
        return True
    return ctypes.util.find_library("armpl_lp64_mp") is not None


def has_venv():
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    with open(PYPROJECT, encoding="utf-8") as file:
        lowest, beyond = supported_range(file.read())
    system, machine = platform.system(), platform.machine()
    line = problem(
        sys.version_info,
        system,
        machine,
        lowest=lowest,
        beyond=beyond,
        has_venv=has_venv(),
        libraries=missing_libraries(system, machine),
        has_armpl=has_armpl(system, machine),
    )
    if line:
        print("make: " + line, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
