"""The synthesized state machine's definition, every intrinsic resolved, passes npm
``asl-validator`` (the Amazon States Language's schema, transitions, JSONPath expressions
and ARNs), the check package.json pins for ``make test``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import BUCKET, ROOT
from linreg.local.state_machine import definition

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def validate(asl: dict, directory: Path) -> subprocess.CompletedProcess:
    """asl-validator's verdict on ``asl``, with every check it has (paths and ARNs too)."""
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: run `make node_modules/.installed`"
    path = directory / "definition.json"
    path.write_text(json.dumps(asl))
    return subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_stacks_definition_is_valid_amazon_states_language(template, tmp_path) -> None:
    verdict = validate(definition(template, BUCKET), tmp_path)

    assert verdict.returncode == 0, verdict.stdout + verdict.stderr


def test_a_definition_with_a_missing_next_state_is_rejected(template, tmp_path) -> None:
    asl = definition(template, BUCKET)
    asl["States"][asl["StartAt"]]["Next"] = "NoSuchState"

    verdict = validate(asl, tmp_path)

    assert verdict.returncode != 0
    assert "NoSuchState" in verdict.stdout + verdict.stderr
