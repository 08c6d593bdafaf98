"""bench/bench_scale_out.py's agreement check: the same model passes, a different one fails."""

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "bench_scale_out.py"
_SPEC = importlib.util.spec_from_file_location("bench_scale_out", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def report(bias=-0.5, petal_width=2.0, split="hashed", rows=None) -> dict:
    return {
        "split": split,
        "rows": rows or {"train": 70, "test": 30},
        "params": {
            "weights": {"sepal_length": 0.25, "petal_width": petal_width},
            "bias": bias,
        },
    }


def test_the_same_model_agrees():
    assert bench.disagreement(report(), report()) is None


def test_rounding_within_the_tolerance_agrees():
    assert bench.disagreement(report(), report(petal_width=2.0 * (1 + 1e-13))) is None


@pytest.mark.parametrize(
    "candidate",
    [
        report(petal_width=2.0 * (1 + 1e-6)),
        report(bias=-0.5 + 0.02),
        report(bias=math.nan),
    ],
)
def test_different_parameters_disagree(candidate):
    problem = bench.disagreement(report(), candidate)
    assert problem.startswith("the models disagree: parameters differ by")
    assert "tolerance of 1e-09" in problem
    assert "\n" not in problem


def test_a_near_zero_weight_is_measured_against_the_largest_parameter():
    # 1e-16 absolute on a weight of 1e-12 is rounding, not a 1e-4 relative change.
    reference = report(bias=1e-12)
    assert bench.disagreement(reference, report(bias=1e-12 + 1e-16)) is None


def test_another_split_or_other_rows_disagree():
    assert "split" in bench.disagreement(report(split="exact"), report())
    assert "rows" in bench.disagreement(report(), report(rows={"train": 71, "test": 29}))


def test_other_weights_disagree():
    other = report()
    other["params"]["weights"] = {"sepal_width": 0.25, "petal_width": 2.0}
    assert bench.disagreement(report(), other).startswith("the models disagree")
