"""Fit diagnostics: R² as scikit-learn scores it, the closed-form weights, and the sample of
test rows the report's fit figures show."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from helpers import IRIS_CSV, ROOT, iris_like
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.contract import StopReason
from linreg.outputs import figures
from linreg.outputs.report import fit_points
from linreg.spec import DIABETES, IRIS
from linreg.training.data import load
from linreg.training.data.split import SAMPLE_ROWS, Accumulator, TestSample, hashed_test_rows
from linreg.training.model import Training
from linreg.training.stats import Stats

DIABETES_CSV = ROOT / "data" / "diabetes.csv"
CASES = {
    "iris": (IRIS_CSV, IRIS, Hyperparameters()),
    "diabetes": (
        DIABETES_CSV,
        DIABETES,
        Hyperparameters.for_preset("converged", dataset="diabetes"),
    ),
}


def frame_of(path, spec) -> tuple[pd.DataFrame, pd.Series]:
    """The tutorial's frame: features with drop-one indicators, and the target."""
    frame = pd.read_csv(path)
    for column, levels in spec.categorical:
        for level in levels[:-1]:
            frame[f"i_{level}"] = (frame[column].astype(str) == level).astype(float)
    return frame[list(spec.features)], frame[spec.target]


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    path, spec, hyperparameters = CASES[request.param]
    run = pipeline.run(path.read_bytes(), hyperparameters)
    X, y = frame_of(path, spec)
    parts = train_test_split(X, y, test_size=0.3, random_state=1)
    return run.report, spec, parts


def predict(params: dict, X: pd.DataFrame, spec) -> np.ndarray:
    weights = np.array([params["weights"][name] for name in spec.features])
    return X.to_numpy() @ weights + params["bias"]


def test_test_r2_is_scikit_learns_r2_score_on_the_same_split(case):
    report, spec, (_, X_test, _, y_test) = case
    expected = r2_score(y_test, predict(report["params"], X_test, spec))
    assert report["test_r2"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_train_r2_is_scikit_learns_r2_score_on_the_same_split(case):
    report, spec, (X_train, _, y_train, _) = case
    expected = r2_score(y_train, predict(report["params"], X_train, spec))
    assert report["train_r2"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_baseline_r2_is_scikit_learns_least_squares_scored_by_r2_score(case):
    report, _, (X_train, X_test, y_train, y_test) = case
    fit = LinearRegression().fit(X_train, y_train)
    assert report["baseline_test_r2"] == pytest.approx(fit.score(X_test, y_test), rel=1e-9)
    assert report["baseline_train_r2"] == pytest.approx(fit.score(X_train, y_train), rel=1e-9)


def test_baseline_params_are_scikit_learns_least_squares_weights(case):
    report, spec, (X_train, _, y_train, _) = case
    fit = LinearRegression().fit(X_train, y_train)
    weights = [report["baseline_params"]["weights"][name] for name in spec.features]
    np.testing.assert_allclose(weights, fit.coef_, rtol=1e-7, atol=1e-9)
    assert report["baseline_params"]["bias"] == pytest.approx(fit.intercept_, rel=1e-7)


def test_r2_of_the_hashed_split_is_r2_score_of_its_rows():
    data = iris_like(6000, seed=3)
    streamed = load(io.BytesIO(data), exact_max_rows=0)
    X, y = frame_of(io.BytesIO(data), IRIS)
    test = hashed_test_rows(X.to_numpy(), y.to_numpy(), seed=1, test_size=0.3)
    theta = np.append(np.ones(5), 0.5)
    predicted = X.to_numpy()[test] @ theta[:-1] + theta[-1]
    assert streamed.test.r2(theta) == pytest.approx(r2_score(y[test], predicted), rel=1e-9)


def test_r2_of_a_constant_target_is_scored_as_scikit_learn_scores_it():
    X = np.arange(10.0).reshape(-1, 1)
    y = np.full(10, 3.0)
    stats = Stats.of(X, y)
    assert stats.r2(np.array([0.0, 3.0])) == r2_score(y, np.full(10, 3.0)) == 1.0
    assert stats.r2(np.array([0.1, 3.0])) == r2_score(y, 0.1 * X[:, 0] + 3) == 0.0


def test_r2_of_a_single_row_is_none():
    assert Stats.of(np.ones((1, 1)), np.ones(1)).r2(np.array([1.0, 0.0])) is None


def test_a_diverged_run_reports_no_r2_but_the_baselines(iris_bytes):
    report = pipeline.run(iris_bytes, Hyperparameters(loss="sum", learning_rate=1.0)).report
    assert report["test_r2"] is None and report["train_r2"] is None
    assert report["fit_sample"] is None
    assert 0.5 < report["baseline_test_r2"] < 1


# The sample of test rows behind the fit figures.


def test_a_small_file_shows_all_its_test_rows(iris_bytes):
    report = pipeline.run(iris_bytes, Hyperparameters()).report
    assert report["fit_sample"] == {"points": 45, "test_rows": 45, "drawn": "all", "seed": 1}


def test_the_sample_of_a_kept_file_is_its_test_rows():
    data = iris_like(9000, seed=5)
    table = load(io.BytesIO(data))
    sample = table.test_sample
    assert len(sample) == SAMPLE_ROWS < table.test.n
    test_rows = {tuple(row) for row in np.hstack([table.rows.X_test, table.rows.y_test])}
    assert {tuple(row) for row in np.hstack([sample.X, sample.y])} <= test_rows


def test_a_streamed_file_reports_a_bounded_sample_drawn_by_hash():
    data = iris_like(20000, seed=6)
    table = load(io.BytesIO(data), exact_max_rows=0)
    report = pipeline.train(table, Hyperparameters(iterations=5)).report
    assert report["split"] == "hashed"
    assert report["fit_sample"] == {
        "points": SAMPLE_ROWS,
        "test_rows": table.test.n,
        "drawn": "lowest_hash",
        "seed": 1,
    }


def test_the_same_file_and_seed_give_the_same_sample_whatever_the_blocks():
    data = iris_like(30000, seed=7)
    samples = [
        load(io.BytesIO(data), exact_max_rows=0, block_bytes=size, threads=1).test_sample
        for size in (1 << 12, 1 << 16, 1 << 20)
    ]
    for other in samples[1:]:
        np.testing.assert_array_equal(other.X, samples[0].X)
        np.testing.assert_array_equal(other.y, samples[0].y)


def test_another_split_seed_gives_another_sample():
    data = iris_like(30000, seed=7)
    first = load(io.BytesIO(data), exact_max_rows=0, split_seed=1).test_sample
    second = load(io.BytesIO(data), exact_max_rows=0, split_seed=2).test_sample
    assert not np.array_equal(first.y, second.y)


@pytest.mark.slow
def test_the_sample_stays_bounded_and_the_same_over_ten_million_rows():
    """10M rows streamed twice, cut into blocks two different ways: at most SAMPLE_ROWS
    test rows kept, and the same ones."""
    rows, block = 10_000_000, 500_000

    def generated(index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(index)
        X = rng.normal(size=(block, 5))
        return X, X @ np.arange(1.0, 6.0) + rng.normal(size=block)

    def streamed(cuts: list[float]) -> Accumulator:
        accumulator = Accumulator(
            n_features=5, test_size=0.3, seed=1, exact_max_rows=0, helper=None
        )
        for index in range(rows // block):
            X, y = generated(index)
            edges = [0, *(int(cut * block) for cut in cuts), block]
            for start, end in zip(edges, edges[1:], strict=False):
                accumulator.add(X[start:end], y[start:end])
            assert len(accumulator.sample) <= SAMPLE_ROWS
        return accumulator

    whole, cut = streamed([]), streamed([0.13, 0.5, 0.77])
    assert whole.row_count == cut.row_count == rows
    assert len(whole.sample) == SAMPLE_ROWS
    np.testing.assert_array_equal(whole.sample.X, cut.sample.X)
    np.testing.assert_array_equal(whole.sample.y, cut.sample.y)
    # Only test rows, and an even draw of them: their hashes are the smallest of ~3M.
    assert hashed_test_rows(whole.sample.X, whole.sample.y, seed=1, test_size=0.3).all()
    assert whole.sample.hashes[-1] < np.uint64(2**64 * 0.3 * 2 * SAMPLE_ROWS / (0.3 * rows))


def test_merging_samples_keeps_the_rows_with_the_smallest_hashes():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5000, 2)), rng.normal(size=5000)
    whole = TestSample.of(X, y, seed=4)
    halves = TestSample.of(X[:2500], y[:2500], seed=4)
    second = TestSample.of(X[2500:], y[2500:], seed=4)
    merged = halves.merged(second.X, second.y, second.hashes)
    np.testing.assert_array_equal(merged.X, whole.X)
    assert np.all(np.diff(whole.hashes.astype(np.float64)) >= 0)


def test_rows_whose_predictions_overflow_are_left_out_of_the_fit_figure():
    sample = TestSample(
        X=np.array([[1.0], [1e300]]), y=np.array([[2.0], [1.0]]), hashes=np.zeros(2, np.uint64)
    )
    training = Training(np.array([1e10]), 0.0, [1.0], StopReason.ITERATIONS)
    actual, predicted = fit_points(sample, training)
    assert actual.tolist() == [2.0] and predicted.tolist() == [1e10]


def test_r2_keeps_its_digits_for_a_target_whose_mean_dwarfs_its_spread(tmp_path):
    frame = pd.read_csv(IRIS_CSV)
    frame["sepal_length"] += 1e6
    path = tmp_path / "far.csv"
    frame.to_csv(path, index=False)
    report = pipeline.run(path.read_bytes(), Hyperparameters(preset="converged")).report
    X, y = frame_of(path, IRIS)
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.3, random_state=1)
    expected = r2_score(y_test, predict(report["params"], X_test, IRIS))
    # From the statistics alone, yᵀy − (Σy)²/n keeps about four of its digits here.
    assert report["test_r2"] == pytest.approx(expected, rel=1e-9)


def test_r2_of_a_constant_target_follows_scikit_learn_on_kept_rows():
    rows = ["sepal_length,sepal_width,petal_length,petal_width,iris"] + [
        f"3,{i % 7},{i % 5},{i % 3},{['setosa', 'versicolor', 'virginica'][i % 3]}"
        for i in range(60)
    ]
    report = pipeline.run(("\n".join(rows) + "\n").encode(), Hyperparameters()).report
    assert report["test_r2"] == 0.0  # an imperfect fit of a constant, as r2_score scores it


def test_the_sum_loss_is_drawn_against_the_optimums_sum_of_squared_errors(iris_bytes, monkeypatch):
    drawn = {}
    loss_plot = figures.loss_plot

    def recording(history, **options):
        drawn.update(options)
        return loss_plot(history, **options)

    monkeypatch.setattr(figures, "loss_plot", recording)
    run = pipeline.run(iris_bytes, Hyperparameters(loss="sum", learning_rate=1e-4))
    report = run.report
    assert run.status == "succeeded" and drawn["loss"] == "sum"
    expected = report["baseline_train_mse"] * report["rows"]["train"]
    assert drawn["optimum"] == pytest.approx(expected, rel=1e-12)


def test_the_sample_of_kept_rows_is_the_same_whatever_the_blocks():
    data = iris_like(9000, seed=5)
    samples = [
        load(io.BytesIO(data), block_bytes=size, threads=1).test_sample
        for size in (1 << 12, 1 << 16, 1 << 20)
    ]
    for other in samples[1:]:
        np.testing.assert_array_equal(other.X, samples[0].X)
        np.testing.assert_array_equal(other.y, samples[0].y)


def test_a_sample_with_no_drawable_row_draws_no_fit_figure():
    assert not pipeline._drawable(np.array([]), np.array([]))
