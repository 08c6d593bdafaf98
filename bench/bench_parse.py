"""Benchmark: the parse (a CSV file → the statistics training needs) against pyarrow's reader.

    .venv/bin/python bench/bench_parse.py [--sizes 1000000,10000000] [--repeat N] [--rounds R]

For each size it times ``linreg.training.data.load`` of a seeded iris-like file (the same
files as ``bench_handler.py``, cached in bench/.data/) and ``pyarrow.csv.read_csv`` of the
same file (multi-threaded, types inferred: the fastest CSV reader at hand, reading into
memory only), and prints the parse's time as a ratio against pyarrow's. ``load`` runs
twice over: as it ships (pyarrow's reader per block, pandas for what it does not take) and
with its pyarrow path switched off (pandas for every block, the parse before it), so the
before and after come from the same run.

Each measurement is a fresh child process (so its peak RSS is its own) that first loads
``data/iris.csv`` (imports, scikit-learn) and then times ``RUNS`` runs. The three children
run in alternating rounds (pyarrow, load, load without pyarrow, pyarrow, ...) so that a
slow spell on a shared machine hits all of them; a measurement is the median of its
rounds' medians, and its ratio the median of the rounds' ratios. ``--repeat N`` takes N
measurements per size and says how often each ratio met its target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambda_src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The targets for the parse against pyarrow.csv.read_csv of the same file.
TARGETS = {1_000_000: 1.5, 10_000_000: 1.3}
RUNS = 3
KINDS = ("pyarrow", "load", "load_pandas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds each")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_run(*args.child)))
        return

    from bench_handler import iris_like_file

    print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}")
    results = []
    for size in (int(size) for size in args.sizes.split(",")):
        path = iris_like_file(size)
        for _ in range(args.repeat):
            result = measure(size, path, args.rounds)
            results.append(result)
            print_result(result)
    print_summary(results)


def measure(size: int, path: Path, rounds: int) -> dict:
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            runs[kind].append(child(kind, str(path)))
    medians = {kind: [statistics.median(r["seconds"]) for r in runs[kind]] for kind in KINDS}
    return {
        "rows": size,
        "mb": path.stat().st_size / 1e6,
        "seconds": {kind: statistics.median(medians[kind]) for kind in KINDS},
        "ratio": statistics.median(
            load / arrow for load, arrow in zip(medians["load"], medians["pyarrow"], strict=True)
        ),
        "ratio_pandas": statistics.median(
            load / arrow
            for load, arrow in zip(medians["load_pandas"], medians["pyarrow"], strict=True)
        ),
        "cpu": {kind: statistics.median(r["cpu_seconds"] for r in runs[kind]) for kind in KINDS},
        "peak_rss_mb": {kind: max(r["peak_rss_mb"] for r in runs[kind]) for kind in KINDS},
    }


def print_result(r: dict) -> None:
    s, cpu, rss = r["seconds"], r["cpu"], r["peak_rss_mb"]
    target = TARGETS.get(r["rows"])
    print(
        f"{r['rows']:>11,} rows {r['mb']:>5.0f} MB | pyarrow.csv.read_csv {s['pyarrow']:.3f} s "
        f"(CPU {cpu['pyarrow']:.2f}, {rss['pyarrow']:.0f} MB) | load {s['load']:.3f} s "
        f"(CPU {cpu['load']:.2f}, {rss['load']:.0f} MB) ratio {r['ratio']:.2f}"
        + (f" (target ≤ {target})" if target else "")
        + f" | without pyarrow {s['load_pandas']:.3f} s (CPU {cpu['load_pandas']:.2f}, "
        f"{rss['load_pandas']:.0f} MB) ratio {r['ratio_pandas']:.2f}",
        flush=True,
    )


def print_summary(results: list[dict]) -> None:
    print()
    for size in dict.fromkeys(r["rows"] for r in results):
        runs = [r for r in results if r["rows"] == size]
        target = TARGETS.get(size)
        for name, key in (("load", "ratio"), ("load without pyarrow", "ratio_pandas")):
            ratios = [r[key] for r in runs]
            met = f", {sum(x <= target for x in ratios)} at or below {target}" if target else ""
            print(
                f"{size:>11,} rows, {name} / pyarrow.csv.read_csv over {len(runs)} "
                f"measurements: {min(ratios):.2f}–{max(ratios):.2f} "
                f"(median {statistics.median(ratios):.2f}){met}"
            )
        rss = [r["peak_rss_mb"]["load"] for r in runs]
        print(f"{size:>11,} rows, load's peak RSS: {min(rss):.0f}–{max(rss):.0f} MB")


def child(kind: str, path: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, path]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def child_run(kind: str, path: str) -> dict:
    if kind == "pyarrow":
        import pyarrow.csv

        def run() -> None:
            pyarrow.csv.read_csv(path)
    else:
        from linreg.training.data import load, parse

        if kind == "load_pandas":
            parse._arrow_parse = lambda block, columns: None  # every block to pandas

        def run() -> None:
            with open(path, "rb") as file:
                load(file)

        with open(ROOT / "data" / "iris.csv", "rb") as file:
            load(file)  # imports, scikit-learn's splitter
    seconds, cpu_seconds = [], []
    for _ in range(RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
    return {
        "seconds": seconds,
        "cpu_seconds": statistics.median(cpu_seconds),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kilobytes) / 1024


if __name__ == "__main__":
    main()
