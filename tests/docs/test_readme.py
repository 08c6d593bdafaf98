"""The README's prerequisites are what CI proves on a fresh Debian 13."""

from __future__ import annotations

import re

from helpers import ROOT


def test_ci_installs_on_debian_13_exactly_the_readmes_packages():
    script = (ROOT / ".ci" / "debian13-quickstart.sh").read_text()
    (ci_packages,) = re.findall(r'^PACKAGES="([^"]+)"$', script, re.MULTILINE)
    readme = (ROOT / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| Debian 13")]
    (readme_packages,) = re.findall(r"`apt install ([^`]+)`", row)
    assert readme_packages.split() == ci_packages.split()
