"""Scale-out benchmark: one 1.2M-row file trained in one pass, and in ~10 parts through the
state machine's steps (plan, parts on a few threads as the Map runs them, reduce), on the
embedded S3. Prints each phase's time and checks the two models agree.

    python bench/bench_scale_out.py [--rows 1200000] [--parts 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import FakeStepFunctions, event_for, iris_like, process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--parts", type=int, default=10)
    args = parser.parse_args()

    import boto3

    from helpers import BUCKET
    from linreg import handler
    from linreg.local import embedded_s3

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

        def params(prefix: str) -> np.ndarray:
            report = json.loads(
                s3.get_object(Bucket=BUCKET, Key=prefix + "report.json")["Body"].read()
            )
            return np.array([*report["params"]["weights"].values(), report["params"]["bias"]])

        difference = np.max(np.abs(params(outcome["prefix"]) / params(single["prefix"]) - 1))

    print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB")
    print(f"one pass (handler): {one_pass:.2f} s; its timings: {single['timings']}")
    print(f"in {len(items)} parts:")
    for phase, seconds in timings.items():
        print(f"  {phase}: {seconds:.2f} s")
    print(f"  each part: {min(part_seconds):.2f}-{max(part_seconds):.2f} s")
    print(f"largest relative difference between the two models' parameters: {difference:.1e}")


if __name__ == "__main__":
    main()
