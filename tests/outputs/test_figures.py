"""The loss curve's PNG."""

import io

import numpy as np
import pytest
from PIL import Image

from linreg.outputs import figures


def line_pixels(png: bytes) -> int:
    """How many pixels have the curve's colour (matplotlib's first colour, C0)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return int((np.abs(image.astype(int) - (31, 119, 180)).sum(axis=2) < 30).sum())


def test_the_loss_plot_shows_the_curve():
    assert line_pixels(figures.loss_plot([3.0 - 0.01 * i for i in range(40)], loss="mean")) > 300


def test_a_redrawn_loss_plot_is_what_a_new_figure_draws():
    curves = [
        ([3.0 - 0.01 * i for i in range(40)], "mean"),
        ([1e4 * 0.9**i for i in range(100)], "sum"),
    ]
    first_drawings = []
    for history, loss in curves:
        figures._loss_figure.cache_clear()
        first_drawings.append(figures.loss_plot(history, loss=loss))
    redrawn = [figures.loss_plot(history, loss=loss) for history, loss in curves * 2]
    assert redrawn == first_drawings * 2


@pytest.mark.parametrize("scale", [1.0, 1e8, 1e-7])
def test_the_title_sits_where_matplotlib_would_place_it(scale):
    history = [scale * 0.9**i for i in range(60)]
    ours = figures.loss_plot(history, loss="mean")
    figure = figures._LossFigure()
    set_title = figure.axes.set_title
    figure.axes.set_title = lambda title, **_: set_title(title)  # matplotlib's own placement
    assert figure.render(history, "mean") == ours


def dark_pixels(png: bytes) -> int:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((image.sum(axis=2) < 150).sum())


def test_the_loss_plot_draws_the_closed_form_optimum_as_a_dashed_line():
    history = [24 * 0.5**i + 0.1 for i in range(100)]
    without = figures.loss_plot(history, loss="mean")
    with_optimum = figures.loss_plot(history, loss="mean", optimum=0.09)
    # A dashed line across the axes (about 500 pixels wide), and its legend entry.
    assert dark_pixels(with_optimum) - dark_pixels(without) > 200


def test_the_loss_axis_is_logarithmic_so_the_tail_of_the_curve_shows():
    history = [24 * 0.5**i + 0.1 for i in range(100)]
    figures.loss_plot(history, loss="mean", optimum=0.09)
    assert figures._loss_figure().axes.get_yscale() == "log"


def test_a_loss_of_zero_at_the_optimum_draws_no_reference_line():
    history = [24 * 0.5**i for i in range(30)]
    assert figures.loss_plot(history, loss="mean", optimum=0.0) == figures.loss_plot(
        history, loss="mean"
    )


def fit_inputs(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    actual = rng.normal(5.8, 0.8, rows)
    return actual, actual + rng.normal(0, 0.3, rows)


def test_the_fit_plot_shows_the_points_and_the_histogram():
    assert line_pixels(figures.fit_plot(*fit_inputs(45, 0), target="y")) > 2000


def test_a_redrawn_fit_plot_is_what_a_new_figure_draws():
    cases = [(fit_inputs(45, 0), "sepal_length", "cm"), (fit_inputs(2000, 1), "target", "")]
    first_drawings = []
    for (actual, predicted), target, unit in cases:
        figures._fit_figure.cache_clear()
        first_drawings.append(figures.fit_plot(actual, predicted, target=target, unit=unit))
    redrawn = [
        figures.fit_plot(actual, predicted, target=target, unit=unit)
        for (actual, predicted), target, unit in cases * 2
    ]
    assert redrawn == first_drawings * 2


def test_a_redrawn_weights_plot_is_what_a_new_figure_draws():
    features = ["a", "much_longer_name", "c"]
    cases = [([1.0, 2.0, 3.0], [1.1, 2.1, 2.9]), ([-50.0, 0.1, 7.0], [-40.0, 0.0, 6.0])]
    first_drawings = []
    for trained, closed_form in cases:
        figures._weights_figure.cache_clear()
        first_drawings.append(figures.weights_plot(features, trained, closed_form, target="y"))
    redrawn = [
        figures.weights_plot(features, trained, closed_form, target="y")
        for trained, closed_form in cases * 2
    ]
    assert redrawn == first_drawings * 2


def test_figures_are_paletted_pngs_to_keep_the_page_small():
    png = figures.fit_plot(*fit_inputs(2000, 1), target="y")
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"
        assert len(image.getcolors()) <= figures.PALETTE_COLOURS


def test_names_with_dollar_signs_are_drawn_as_text_not_math():
    hostile = r"$\frac$"
    assert figures.fit_plot(*fit_inputs(45, 0), target=hostile, unit=hostile)
    assert figures.weights_plot([hostile, "b"], [1.0, 2.0], [1.0, 2.0], target=hostile, unit="$")
    assert figures.loss_plot([2.0, 1.0], loss="mean", optimum=0.5, unit=hostile)
