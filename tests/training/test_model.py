import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import IRIS_CSV, iris_like
from linreg.training import model
from linreg.training.data import load_bytes
from linreg.training.stats import Stats, baseline


@pytest.fixture(scope="module")
def iris():
    return load_bytes(IRIS_CSV.read_bytes())


def train(loss_of, **options):
    settings = {"n_features": 5, "learning_rate": 0.01, "iterations": 100, "seed": 0}
    return model.train(loss_of, **{**settings, **options})


def tutorial(data, reduction="mean"):
    return model.tutorial_loss(data.rows.X_train, data.rows.y_train, reduction)


@pytest.mark.parametrize("engine", ["tutorial", "statistics"])
def test_autograd_gradient_equals_the_analytic_one(iris, engine):
    from mxnet import autograd

    X, y = iris.rows.X_train, iris.rows.y_train
    loss_of = tutorial(iris) if engine == "tutorial" else model.statistics_loss(iris.train, "mean")
    theta = model.init_params(X.shape[1], seed=3)
    with autograd.record():
        loss = loss_of(theta)
    loss.backward()
    # d/dθ mean((Aθ - y)²) = 2/n · Aᵀ(Aθ - y), with A = [X, 1] and θ = [w; b].
    A = np.hstack([X, np.ones((len(X), 1))])
    analytic = 2 / len(X) * A.T @ (A @ theta.asnumpy() - y)
    np.testing.assert_allclose(theta.grad.asnumpy(), analytic, rtol=1e-9)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_statistics_engine_matches_the_tutorial_loop_on_iris(iris, reduction):
    rate = 0.01 if reduction == "mean" else 0.0001
    loop = train(tutorial(iris, reduction), learning_rate=rate)
    fast = train(model.statistics_loss(iris.train, reduction), learning_rate=rate)
    np.testing.assert_allclose(fast.loss_history, loop.loss_history, rtol=1e-11)
    np.testing.assert_allclose(fast.weights, loop.weights, rtol=1e-11, atol=1e-13)
    assert fast.bias == pytest.approx(loop.bias, rel=1e-11)


def test_statistics_engine_matches_the_tutorial_loop_on_synthetic_data():
    data = load_bytes(iris_like(5000, seed=4))
    loop = train(tutorial(data), iterations=300, seed=9)
    fast = train(model.statistics_loss(data.train, "mean"), iterations=300, seed=9)
    np.testing.assert_allclose(fast.loss_history, loop.loss_history, rtol=1e-11)
    np.testing.assert_allclose(fast.weights, loop.weights, rtol=1e-10, atol=1e-12)


def test_same_seed_gives_identical_loss_history(iris):
    runs = [train(model.statistics_loss(iris.train, "mean"), seed=7) for _ in range(2)]
    assert runs[0].loss_history == runs[1].loss_history
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)


def test_init_draws_the_tutorials_float32_values():
    import mxnet as mx
    from mxnet import nd

    mx.random.seed(5)
    w = nd.random.normal(shape=[5, 1]).asnumpy()
    b = nd.random.normal(shape=1).asnumpy()
    theta = model.init_params(5, seed=5).asnumpy()
    np.testing.assert_array_equal(theta, np.vstack([w, b.reshape(1, 1)]).astype(np.float64))


def test_different_seeds_start_from_different_parameters():
    first, second = model.init_params(5, seed=0), model.init_params(5, seed=1)
    assert not np.array_equal(first.asnumpy(), second.asnumpy())


def test_tutorial_settings_reduce_the_loss(iris):
    run = train(model.statistics_loss(iris.train, "mean"))
    assert len(run.loss_history) == 100 and not run.diverged
    assert run.loss_history[-1] < run.loss_history[0] / 10


def test_many_iterations_approach_the_closed_form_test_mse(iris):
    loss_of = model.statistics_loss(iris.train, "mean")
    short = train(loss_of, learning_rate=0.03)
    long = train(loss_of, learning_rate=0.03, iterations=3000)
    optimum = baseline(iris.train, iris.test).test_mse
    assert iris.test.mse(long.theta) < 1.1 * optimum
    assert iris.test.mse(short.theta) > 1.5 * optimum


def test_gradient_descent_reaches_least_squares_on_well_conditioned_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + rng.normal(scale=0.1, size=(200, 1))
    run = train(
        model.statistics_loss(Stats.of(X, y), "mean"),
        n_features=3,
        learning_rate=0.1,
        iterations=300,
    )
    A = np.hstack([X, np.ones((200, 1))])
    theta, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(run.theta, theta, atol=1e-4)


@pytest.mark.parametrize("engine", ["tutorial", "statistics"])
def test_sum_loss_with_large_learning_rate_is_detected_as_divergence(iris, engine):
    loss_of = (
        tutorial(iris, "sum") if engine == "tutorial" else model.statistics_loss(iris.train, "sum")
    )
    run = train(loss_of, learning_rate=1.0)
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


def test_sgd_step_is_the_tutorials_update_in_place():
    from mxnet import autograd, nd

    rng = np.random.default_rng(3)
    theta = nd.array(rng.normal(size=(6, 1)), dtype=model.DTYPE)
    theta.attach_grad()
    with autograd.record():
        loss = nd.sum(nd.square(theta) * 1.7)
    loss.backward()
    expected = theta.copy()
    expected[:] = expected - theta.grad * 0.01  # the tutorial's own statement

    model.sgd([theta], 0.01)

    np.testing.assert_array_equal(theta.asnumpy(), expected.asnumpy())


def test_params_nd_loads_back_with_nd_load(iris, tmp_path):
    from mxnet import nd

    run = train(model.statistics_loss(iris.train, "mean"), iterations=5)
    path = tmp_path / "params.nd"
    path.write_bytes(model.params_nd(run))
    loaded = nd.load(str(path))
    np.testing.assert_array_equal(loaded["w"].asnumpy().ravel(), run.weights)
    assert loaded["b"].asscalar() == run.bias


TRAIN_IN_A_FRESH_PROCESS = """
import os
from linreg.training import model
from linreg.training.stats import Stats
import numpy as np
stats = Stats.of(np.eye(5), np.ones((5, 1)))
loss = model.statistics_loss(stats, "mean")
model.train(loss, n_features=5, learning_rate=0.1, iterations=3, seed=1)
print(os.environ.get("MXNET_ENGINE_TYPE"))
"""


@pytest.fixture(scope="module")
def fresh_process() -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "MXNET_ENGINE_TYPE"}
    command = [sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True)


@pytest.mark.slow
def test_mxnet_runs_the_synchronous_engine(fresh_process):
    assert fresh_process.stdout.strip() == "NaiveEngine"


def test_starting_mxnet_writes_nothing_to_stderr(fresh_process):
    assert fresh_process.stderr == ""
