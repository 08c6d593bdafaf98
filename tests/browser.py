"""Headless Chromium for the page tests: a page renders as a person would see it."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# The closed network: without these Chromium waits on updates, sync and QUIC probes.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed; .ci/run installs it")
    # A fresh profile each time: a shared one is locked by a still-closing Chromium.
    with tempfile.TemporaryDirectory(dir=cwd) as profile:
        return subprocess.run(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            timeout=120,
            check=True,
            cwd=cwd,
        )
