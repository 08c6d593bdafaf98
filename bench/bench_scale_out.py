"""Scale-out benchmark: one 1.2M-row file trained in one pass, and in ~10 parts through the
state machine's steps (plan, parts on a few threads as the Map runs them, reduce), on the
embedded S3. Prints each phase's time and checks the two models agree: it exits 1 if their
parameters differ by more than ``TOLERANCE`` (relative) or they trained on different rows.

    .venv/bin/python bench/bench_scale_out.py [--rows 1200000] [--parts 10]

The parts always use the hashed split (a file above ``LINREG_DISTRIBUTED_ABOVE_BYTES`` is
one the function would not train whole), while the function trains a file of at most
1,000,000 rows on scikit-learn's exact split. At such sizes the handler's one-pass model
therefore differs from the parts' model by design, and the parts are compared with a
one-pass model trained on the hashed split instead (the same settings, the library's own
``linreg.training.data.load`` and ``linreg.pipeline.train``); see docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The project's one change to sys.path: this benchmark drives the handler through the
# tests' Step Functions double and their event and data makers (tests/helpers.py), which
# are not part of the package.
sys.path.insert(0, str(ROOT / "tests"))

from helpers import FakeStepFunctions, event_for, iris_like, process  # noqa: E402

# docs/scale-out.md promises the parts train "exactly as one pass would". Their sums are
# added in another order, so they agree to rounding (1.2e-14 measured at 1.2M rows), not
# bit for bit: anything beyond this is a different model.
TOLERANCE = 1e-9


def parameters(report: dict) -> np.ndarray:
    """A report's weights and bias, in the report's order."""
    return np.array([*report["params"]["weights"].values(), report["params"]["bias"]])


def difference(reference: dict, candidate: dict) -> float:
    """The largest difference between two reports' parameters, relative to the largest
    parameter of ``reference`` (so a weight near zero cannot inflate it)."""
    a, b = parameters(reference), parameters(candidate)
    if a.shape != b.shape or list(reference["params"]["weights"]) != list(
        candidate["params"]["weights"]
    ):
        return float("inf")
    scale = np.max(np.abs(a))
    return float(np.max(np.abs(b - a)) / scale) if scale else float(np.max(np.abs(b - a)))


def disagreement(reference: dict, candidate: dict, tolerance: float = TOLERANCE) -> str | None:
    """Why two runs' reports are not the same model (one line), or None if they are."""
    for field in ("split", "rows"):
        if reference.get(field) != candidate.get(field):
            return (
                f"the models disagree: {field} {reference.get(field)} in one pass, "
                f"{candidate.get(field)} in parts"
            )
    found = difference(reference, candidate)
    if not found <= tolerance:  # NaN disagrees too
        return (
            f"the models disagree: parameters differ by {found:.1e} relative, "
            f"beyond the tolerance of {tolerance:.0e}"
        )
    return None


def hashed_one_pass(data: bytes, settings: dict) -> dict:
    """The report of one pass over ``data`` with the hashed split, as the parts split it."""
    from linreg import pipeline
    from linreg.config import Hyperparameters
    from linreg.spec import spec_named
    from linreg.training.data import load

    hyperparameters = Hyperparameters.from_strings(settings)
    table = load(
        io.BytesIO(data),
        spec=spec_named(hyperparameters.dataset),
        test_size=hyperparameters.test_size,
        split_seed=hyperparameters.split_seed,
        exact_max_rows=0,  # every row by the hashed split
    )
    return pipeline.train(table, hyperparameters).report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--parts", type=int, default=10)
    args = parser.parse_args()

    import boto3

    from helpers import BUCKET
    from linreg import handler
    from linreg.local.embedded_s3 import embedded_s3

    data = iris_like(args.rows)
    with embedded_s3():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key in ("incoming/one-pass.csv", "incoming/parts.csv"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)

        started = time.perf_counter()
        (single,) = handler.handle_event(event_for("incoming/one-pass.csv"), s3=s3, env={})
        one_pass = time.perf_counter() - started

        env = {
            "LINREG_STATE_MACHINE_ARN": "arn:aws:states:local:0:stateMachine:bench",
            "LINREG_DISTRIBUTED_ABOVE_BYTES": "1",
            "LINREG_PART_BYTES": str(len(data) // args.parts + 1),
        }
        sfn = FakeStepFunctions()
        process(s3, "incoming/parts.csv", env, sfn)
        (run,) = sfn.executions.values()
        timings = {}
        started = time.perf_counter()
        plan = handler.step({**run, "linreg_step": "plan"}, s3=s3, env=env)
        timings["plan"] = time.perf_counter() - started
        items = json.loads(s3.get_object(Bucket=BUCKET, Key=plan["key"])["Body"].read())
        started = time.perf_counter()
        part_seconds = []

        def part(item: dict) -> None:
            began = time.perf_counter()
            handler.step({"linreg_step": "part", "item": item}, s3=s3, env=env)
            part_seconds.append(time.perf_counter() - began)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(part, items))
        timings["parts (2 at once)"] = time.perf_counter() - started
        started = time.perf_counter()
        outcome = handler.step(
            {"linreg_step": "reduce", "run": {**run, "plan": plan}}, s3=s3, env=env
        )
        timings["reduce (sum, train, publish)"] = time.perf_counter() - started

        def report(prefix: str) -> dict:
            body = s3.get_object(Bucket=BUCKET, Key=prefix + "report.json")["Body"].read()
            return json.loads(body)

        handler_model, parts_model = report(single["prefix"]), report(outcome["prefix"])

    print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB")
    print(f"one pass (handler): {one_pass:.2f} s; its timings: {single['timings']}")
    print(f"in {len(items)} parts:")
    for phase, seconds in timings.items():
        print(f"  {phase}: {seconds:.2f} s")
    print(f"  each part: {min(part_seconds):.2f}-{max(part_seconds):.2f} s")
    if handler_model["split"] == parts_model["split"]:
        reference, against = handler_model, "the handler's one-pass model"
    else:
        reference = hashed_one_pass(data, run["settings"])
        against = (
            f"a one-pass model on the {reference['split']} split (the handler used the "
            f"{handler_model['split']} split, at most 1,000,000 rows; the parts the "
            f"{parts_model['split']} one; by design)"
        )
    print(f"parts' model ({parts_model['split']} split) compared with {against}")
    print(
        f"largest difference between the two models' parameters, relative to the largest: "
        f"{difference(reference, parts_model):.1e} (tolerance {TOLERANCE:.0e})"
    )
    problem = disagreement(reference, parts_model, TOLERANCE)
    if problem:
        sys.exit(problem)
    print("the models agree")


if __name__ == "__main__":
    main()
