"""The presets' documented figures on data/iris.csv, measured as `linreg train` runs them
(``pipeline.run`` on the file, one run at a time in this process):

- ``converged``: iterations and training time (the report's ``timings.train_seconds``),
  median and most, over init seeds 0-19;
- ``tutorial`` (raw features, lr 0.01): the test MSE's gap to the closed-form baseline at
  20,000 iterations, and the fewest iterations (to the nearest 1,000, by bisection) that
  bring it within 1 %, for init seeds 0-4.

    .venv/bin/python bench/bench_presets.py [--csv data/iris.csv]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WITHIN = 0.01  # the tutorial preset's target: test MSE within 1 % of the baseline's
STEP = 1_000  # iterations, the bisection's resolution


def run(csv: Path, **settings) -> dict:
    """One run's report, as `linreg train CSV --<setting> <value> ...` makes it."""
    from linreg import pipeline
    from linreg.config import Hyperparameters

    hyperparameters = Hyperparameters.from_strings({k: str(v) for k, v in settings.items()})
    with csv.open("rb") as stream:
        return pipeline.run(
            stream,
            hyperparameters,
            source={"path": str(csv)},
            spec=None,
            on_iteration=None,
            size=csv.stat().st_size,
        ).report


def gap(report: dict) -> float:
    """How far the test MSE lies above the closed-form baseline's, as a fraction."""
    return report["test_mse"] / report["baseline_test_mse"] - 1


def iterations_within(csv: Path, seed: int, high: int = 200_000) -> int:
    """The fewest iterations, a multiple of ``STEP``, that bring the tutorial preset's test
    MSE within ``WITHIN`` of the baseline (assuming the gap falls as iterations grow)."""
    low = 0  # known not within (or none run)
    if gap(run(csv, preset="tutorial", iterations=high, seed=seed)) > WITHIN:
        raise SystemExit(f"seed {seed}: not within {WITHIN:.0%} after {high:,} iterations")
    while high - low > STEP:
        middle = (low + high) // 2 // STEP * STEP
        if gap(run(csv, preset="tutorial", iterations=middle, seed=seed)) <= WITHIN:
            high = middle
        else:
            low = middle
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=ROOT / "data" / "iris.csv")
    args = parser.parse_args()

    reports = [run(args.csv, preset="converged", seed=seed) for seed in range(20)]
    iterations = [report["iterations_run"] for report in reports]
    seconds = [report["timings"]["train_seconds"] for report in reports]
    print(f"converged preset on {args.csv.name}, init seeds 0-19:")
    print(f"  iterations: median {statistics.median(iterations):.0f}, most {max(iterations)}")
    print(
        f"  train_seconds: median {statistics.median(seconds):.3f} s, most {max(seconds):.3f} s"
        f" (seed 0, the process's first run: {seconds[0]:.3f} s)"
    )
    print(f"  test MSE against the baseline: at most {max(map(gap, reports)):+.2%}")
    print(f"tutorial preset (raw features, lr 0.01) on {args.csv.name}:")
    for seed in range(5):
        at_20k = gap(run(args.csv, preset="tutorial", iterations=20_000, seed=seed))
        needed = iterations_within(args.csv, seed)
        print(
            f"  seed {seed}: test MSE {at_20k:+.2%} against the baseline at 20,000 iterations; "
            f"within {WITHIN:.0%} from {needed:,} (to the nearest {STEP:,})"
        )


if __name__ == "__main__":
    main()
