"""The converged preset: standardized features, automatic step, early stopping."""

import numpy as np
import pytest

from helpers import IRIS_CSV
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.training.data import load_bytes
from linreg.training.stats import Scaling, Stats


@pytest.fixture(scope="module")
def iris():
    return load_bytes(IRIS_CSV.read_bytes())


@pytest.fixture(scope="module")
def converged_runs(iris_bytes):
    return [
        pipeline.run(iris_bytes, Hyperparameters.for_preset("converged", seed=seed))
        for seed in range(20)
    ]


@pytest.mark.slow
def test_converged_is_within_half_a_percent_of_the_optimum_for_init_seeds_0_to_19(
    converged_runs,
):
    gaps = [
        abs(run.report["test_mse"] / run.report["baseline_test_mse"] - 1) for run in converged_runs
    ]
    assert max(gaps) <= 0.005, gaps


def test_converged_runs_stop_on_the_tolerance_well_before_the_cap(converged_runs):
    assert {run.report["stopped"] for run in converged_runs} == {"tolerance"}
    assert max(run.report["iterations_run"] for run in converged_runs) < 1000


def test_the_tutorial_preset_is_far_from_the_optimum_after_its_100_iterations(iris_bytes):
    report = pipeline.run(iris_bytes, Hyperparameters()).report
    assert report["test_mse"] > 2 * report["baseline_test_mse"]
    assert report["stopped"] == "iterations" and report["standardization"] is None


def test_converged_report_records_the_scaling_and_the_rate_it_used(converged_runs, iris):
    report = converged_runs[0].report
    scaling = report["standardization"]
    np.testing.assert_allclose(
        scaling["mean"]["sepal_width"], iris.rows.X_train[:, 0].mean(), rtol=1e-12
    )
    assert report["hyperparameters"]["learning_rate"] > 0.01


def test_standardized_statistics_equal_statistics_of_standardized_rows(iris):
    scaling = Scaling.of(iris.train)
    X = iris.rows.X_train
    expected = Stats.of(scaling.rows(X), iris.rows.y_train)
    got = scaling.stats(iris.train)
    np.testing.assert_allclose(got.gram, expected.gram, atol=1e-9)
    np.testing.assert_allclose(got.moment, expected.moment, atol=1e-9)
    np.testing.assert_allclose(scaling.rows(X).std(axis=0), 1.0, rtol=1e-12)


def test_scaled_parameters_predict_the_same_in_raw_units(iris):
    scaling = Scaling.of(iris.train)
    theta_scaled = np.arange(1.0, 7.0).reshape(-1, 1)
    X = iris.rows.X_test
    scaled = scaling.rows(X) @ theta_scaled[:-1] + theta_scaled[-1]
    theta = scaling.to_original(theta_scaled)
    np.testing.assert_allclose(X @ theta[:-1] + theta[-1], scaled, rtol=1e-12)


def test_both_engines_agree_under_the_converged_preset(iris_bytes):
    runs = [
        pipeline.run(iris_bytes, Hyperparameters.for_preset("converged", engine=engine))
        for engine in ("statistics", "tutorial")
    ]
    np.testing.assert_allclose(
        runs[0].report["loss_history"], runs[1].report["loss_history"], rtol=1e-10
    )
