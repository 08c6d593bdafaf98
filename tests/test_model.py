import numpy as np
import pytest

from linreg import model
from linreg.dataset import features, load_table, split
from linreg.report import baseline


@pytest.fixture(scope="module")
def iris_split():
    from conftest import IRIS_CSV

    X, y = features(load_table(IRIS_CSV.read_bytes()))
    return split(X, y, test_size=0.3, seed=1)


def test_autograd_gradient_equals_the_analytic_one(iris_split):
    from mxnet import autograd, nd

    X, y = iris_split.X_train, iris_split.y_train
    w, b = model.init_params(X.shape[1], seed=3)
    with autograd.record():
        loss = model.squared_loss(model.linreg(nd.array(X), w, b), nd.array(y), "mean")
    loss.backward()
    # d/dθ mean((Aθ - y)²) = 2/n · Aᵀ(Aθ - y), with A = [X, 1] and θ = [w; b].
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.vstack([w.asnumpy(), b.asnumpy().reshape(1, 1)]).astype(np.float64)
    analytic = 2 / len(X) * A.T @ (A @ theta - y)
    np.testing.assert_allclose(w.grad.asnumpy(), analytic[:-1], rtol=1e-4)
    np.testing.assert_allclose(b.grad.asnumpy(), analytic[-1], rtol=1e-4)


def test_same_seed_gives_identical_loss_history(iris_split):
    runs = [
        model.train(
            iris_split.X_train, iris_split.y_train, learning_rate=0.01, iterations=50, seed=7
        )
        for _ in range(2)
    ]
    assert runs[0].loss_history == runs[1].loss_history
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)


def test_different_seeds_start_from_different_parameters():
    w0, _ = model.init_params(5, seed=0)
    w1, _ = model.init_params(5, seed=1)
    assert not np.array_equal(w0.asnumpy(), w1.asnumpy())


def test_tutorial_settings_reduce_the_loss(iris_split):
    run = model.train(
        iris_split.X_train, iris_split.y_train, learning_rate=0.01, iterations=100, seed=0
    )
    assert len(run.loss_history) == 100
    assert not run.diverged
    assert run.loss_history[-1] < run.loss_history[0] / 10


def test_many_iterations_approach_the_closed_form_test_mse(iris_split):
    short = model.train(
        iris_split.X_train, iris_split.y_train, learning_rate=0.03, iterations=100, seed=0
    )
    long = model.train(
        iris_split.X_train, iris_split.y_train, learning_rate=0.03, iterations=1500, seed=0
    )
    optimum = baseline(iris_split).test_mse
    assert model.mse(iris_split.X_test, iris_split.y_test, long) < 1.15 * optimum
    assert model.mse(iris_split.X_test, iris_split.y_test, short) > 1.5 * optimum


def test_gradient_descent_reaches_least_squares_on_well_conditioned_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + rng.normal(scale=0.1, size=(200, 1))
    run = model.train(X, y, learning_rate=0.1, iterations=300, seed=0)
    A = np.hstack([X, np.ones((200, 1))])
    theta, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(run.weights, theta[:3, 0], atol=1e-4)
    assert run.bias == pytest.approx(theta[3, 0], abs=1e-4)


def test_sum_loss_with_large_learning_rate_is_detected_as_divergence(iris_split):
    run = model.train(
        iris_split.X_train,
        iris_split.y_train,
        learning_rate=1.0,
        iterations=100,
        seed=0,
        loss="sum",
    )
    assert run.diverged
    assert len(run.loss_history) < 100


def test_non_finite_loss_counts_as_divergence():
    assert model.is_diverging([1.0, float("nan")])
    assert model.is_diverging([1.0, float("inf")])
    assert not model.is_diverging([1.0, 0.5])


def test_loss_rejects_a_flat_target_that_would_broadcast():
    from mxnet import nd

    with pytest.raises(ValueError, match="shape"):
        model.squared_loss(nd.zeros((4, 1)), nd.zeros((4,)), "mean")


def test_params_nd_loads_back_with_nd_load(iris_split, tmp_path):
    from mxnet import nd

    run = model.train(
        iris_split.X_train, iris_split.y_train, learning_rate=0.01, iterations=5, seed=0
    )
    path = tmp_path / "params.nd"
    path.write_bytes(model.params_nd(run))
    loaded = nd.load(str(path))
    np.testing.assert_allclose(loaded["w"].asnumpy().ravel(), run.weights, rtol=1e-6)
    assert loaded["b"].asscalar() == pytest.approx(run.bias)
