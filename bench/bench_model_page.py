"""Model page benchmark: how long rewriting models/<name>/index.html takes for a model with
50 and 200 runs (a tenth of them failure records) on the embedded S3 (moto over HTTP).
The page reads the newest 50 reports whatever the count, so listing is all that grows.
In the same run, the same runs as published before reports listed their files (each row
then asks S3 whether report.html is there) are the reference; the target is ≤ 0.35 s for
50 runs, and --repeat rounds say how often it was met.

    .venv/bin/python bench/bench_model_page.py [--runs 50 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from linreg.cli.console import SAMPLE_CSV as IRIS_CSV

BUCKET = "linreg-bench"


TARGET_SECONDS = 0.35  # 50 runs


def seed(s3, name: str, count: int, report: dict, report_html: bytes, *, files: bool) -> None:
    """``count`` runs of ``name``, one an hour, every tenth a failure record; ``files``:
    whether the reports list their folders' files, as published runs' do now."""
    from linreg.service.layout import Layout

    layout, start = Layout(), datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(count):
        uploaded = start + timedelta(hours=index)
        run_id = f"{uploaded:%Y%m%dT%H%M%SZ}-{index:012x}"
        source = {**report["input"], "last_modified": uploaded.isoformat()}
        if index % 10 == 9:
            record = {"status": "failed", "run_id": run_id, "input": source, "settings": {}}
            record["error"] = {"code": "empty_file", "message": "empty"}
            body = json.dumps(record)
            s3.put_object(Bucket=BUCKET, Key=layout.failure_key(name, run_id), Body=body)
            continue
        prefix = layout.run_prefix(name, run_id)
        s3.put_object(Bucket=BUCKET, Key=prefix + "report.html", Body=report_html)
        listed = {"files": ["report.html", "report.json"]} if files else {}
        body = json.dumps({**report, "run_id": run_id, "input": source, **listed})
        s3.put_object(Bucket=BUCKET, Key=prefix + "report.json", Body=body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import boto3

    from linreg import pipeline
    from linreg.config import Hyperparameters
    from linreg.local.embedded_s3 import embedded_s3
    from linreg.service import model_page
    from linreg.service.layout import Layout

    run = pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters())
    report = {**run.report, "input": {"key": "incoming/iris.csv"}}
    with embedded_s3():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for count in args.runs:
            for listed in (False, True):
                name = f"bench-{count}-{'listed' if listed else 'asked'}"
                seed(s3, name, count, report, run.files["report.html"], files=listed)
                model_page.publish_page(s3, BUCKET, Layout(), name)  # warm: imports, page
            timings: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.repeat):
                for listed in (False, True):  # alternating: a slow spell hits both
                    name = f"bench-{count}-{'listed' if listed else 'asked'}"
                    started = time.perf_counter()
                    assert model_page.publish_page(s3, BUCKET, Layout(), name)
                    timings[listed].append(time.perf_counter() - started)
            now, before = (statistics.median(timings[flag]) for flag in (True, False))
            met = sum(seconds <= TARGET_SECONDS for seconds in timings[True])
            size = s3.head_object(Bucket=BUCKET, Key=Layout().page_key(name))["ContentLength"]
            print(
                f"{count:>5} runs: page written in {now * 1000:.0f} ms (median of "
                f"{args.repeat}; min {min(timings[True]) * 1000:.0f} ms), {size:,} bytes; "
                f"{now / before:.2f}× the {before * 1000:.0f} ms of reports without their "
                f"files listed"
                + (f"; ≤ {TARGET_SECONDS} s in {met} of {args.repeat}" if count == 50 else "")
            )


if __name__ == "__main__":
    main()
