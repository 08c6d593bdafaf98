"""At the largest plan the stack accepts: one file cut into linreg:maxParts parts (the
synthesized function's own setting, 10,000 by default), each step the real function, run
through the synthesized state machine in the strict runner, where a Map whose collected
results pass 256 KiB fails as on AWS. One part more is refused by the plan step.

Every row has the same length and the parts are one row long, so the file stays small
(about 320 kB) while the plan is as long as the stack allows. The run takes minutes: moto
starts each of the 10,000 children as a child execution."""

from __future__ import annotations

import pytest

from helpers import BUCKET, read_json, real_function, scale_out_environment, started_run
from linreg.contract import MAX_PARTS_ENV
from linreg.local.state_machine import run_state_machine

ROW_BYTES = 32
HEADER = b"sepal_length,sepal_width,petal_length,petal_width,iris\n"
SPECIES = ("setosa", "versicolor", "virginica")


def fixed_width_rows(count: int) -> bytes:
    """An iris CSV whose data rows are all ``ROW_BYTES`` long (the first value padded with
    zeros), so that parts of ``ROW_BYTES`` hold one row each."""
    rows = []
    for index in range(count):
        width, length = 2 + index % 20 / 10, 1 + index % 50 / 10
        rest = f",{width:.1f},{length:.1f},{width / 2:.1f},{SPECIES[index % 3]}\n"
        first = f"{4 + index % 40 / 10:.1f}"
        rows.append(first.ljust(ROW_BYTES - len(rest), "0") + rest)
    body = "".join(rows).encode()
    assert len(body) == count * ROW_BYTES
    return HEADER + body


@pytest.fixture
def function_env(monkeypatch, template) -> dict:
    """The function's environment for one-row parts, with the stack's own part cap."""
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"PackageType": "Image"}}
    ).values()
    cap = function["Properties"]["Environment"]["Variables"][MAX_PARTS_ENV]
    monkeypatch.setenv(MAX_PARTS_ENV, cap)
    env = scale_out_environment(monkeypatch, part_bytes=ROW_BYTES)
    monkeypatch.setenv("LINREG_DISTRIBUTED_ABOVE_BYTES", "1024")
    return {**env, "LINREG_DISTRIBUTED_ABOVE_BYTES": "1024", MAX_PARTS_ENV: cap}


def test_a_plan_at_the_part_cap_runs_to_a_published_model(s3, template, function_env):
    cap = int(function_env[MAX_PARTS_ENV])
    s3.put_object(Bucket=BUCKET, Key="incoming/cap.csv", Body=fixed_width_rows(cap))
    run = started_run(s3, "incoming/cap.csv", function_env)

    execution = run_state_machine(
        template, real_function, run, bucket=BUCKET, timeout_seconds=1800, retry_wait_scale=0.01
    )

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert len(execution.calls_of("part")) == cap
    report = read_json(s3, execution.output["prefix"] + "report.json")
    assert report["execution"] == {"mode": "distributed", "parts": cap}
    assert report["rows"]["total"] == cap


def test_a_plan_one_part_over_the_cap_is_refused_before_any_part(s3, template, function_env):
    cap = int(function_env[MAX_PARTS_ENV])
    s3.put_object(Bucket=BUCKET, Key="incoming/over.csv", Body=fixed_width_rows(cap + 1))
    run = started_run(s3, "incoming/over.csv", function_env)

    execution = run_state_machine(template, real_function, run, bucket=BUCKET)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output["code"] == "too_many_parts"
    assert execution.calls_of("part") == []
