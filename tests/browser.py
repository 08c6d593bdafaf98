"""Headless Chromium for the page tests: a page renders as a person would see it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
# Set to 1 to copy the screenshots the tests render into docs/ (the README shows them).
UPDATE_SCREENSHOTS_ENV = "LINREG_UPDATE_SCREENSHOTS"
# matplotlib's first colour, C0: every figure draws its main series in it.
FIGURE_BLUE = (31, 119, 180)
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


def screenshot(page: Path, window: tuple[int, int]) -> Image.Image:
    """Chromium's rendering of ``page`` in a window of ``window`` (width, height) pixels."""
    shot = page.with_suffix(".png")
    chromium(
        f"--screenshot={shot}",
        f"--window-size={window[0]},{window[1]}",
        page.as_uri(),
        cwd=page.parent,
    )
    with Image.open(shot) as image:
        image.load()
    return image


def keep_for_docs(image: Image.Image, name: str) -> None:
    """Save a rendered screenshot as docs/``name`` when asked to (``UPDATE_SCREENSHOTS_ENV``)."""
    if os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1":
        # 128 colours: a third of the bytes for the README, and text stays crisp.
        image.convert("RGB").quantize(128).save(DOCS / name, optimize=True)


def blue_pixels(image: Image.Image) -> int:
    """How many pixels are near matplotlib's C0 blue: how much of the figures is drawn."""
    pixels = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(pixels - FIGURE_BLUE).sum(axis=2) < 40).sum())
