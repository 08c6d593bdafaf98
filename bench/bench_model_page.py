"""Model page benchmark: how long rewriting models/<name>/index.html takes for a model with
50 and 200 runs (a tenth of them failure records) on the embedded S3 (moto over HTTP).
The page reads the newest 50 reports whatever the count, so listing is all that grows.

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


def seed(s3, name: str, count: int, report: dict, report_html: bytes) -> None:
    """``count`` runs of ``name``, one an hour, every tenth a failure record."""
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
        body = json.dumps({**report, "run_id": run_id, "input": source})
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
            name = f"bench-{count}"
            seed(s3, name, count, report, run.files["report.html"])
            model_page.publish_page(s3, BUCKET, Layout(), name)  # warm: imports, first page
            seconds = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                assert model_page.publish_page(s3, BUCKET, Layout(), name)
                seconds.append(time.perf_counter() - started)
            size = s3.head_object(Bucket=BUCKET, Key=Layout().page_key(name))["ContentLength"]
            print(
                f"{count:>5} runs: page written in {statistics.median(seconds) * 1000:.0f} ms "
                f"(median of {args.repeat}; min {min(seconds) * 1000:.0f} ms), {size:,} bytes"
            )


if __name__ == "__main__":
    main()
