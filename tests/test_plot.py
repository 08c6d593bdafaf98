"""The loss curve's PNG."""

import io

import numpy as np
import pytest
from PIL import Image

from linreg import plot


def line_pixels(png: bytes) -> int:
    """How many pixels have the curve's colour (matplotlib's first colour, C0)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return int((np.abs(image.astype(int) - (31, 119, 180)).sum(axis=2) < 30).sum())


def test_the_loss_plot_shows_the_curve():
    assert line_pixels(plot.loss_plot([3.0 - 0.01 * i for i in range(40)], loss="mean")) > 300


def test_a_redrawn_loss_plot_is_what_a_new_figure_draws():
    curves = [
        ([3.0 - 0.01 * i for i in range(40)], "mean"),
        ([1e4 * 0.9**i for i in range(100)], "sum"),
    ]
    first_drawings = []
    for history, loss in curves:
        plot._loss_figure.cache_clear()
        first_drawings.append(plot.loss_plot(history, loss=loss))
    redrawn = [plot.loss_plot(history, loss=loss) for history, loss in curves * 2]
    assert redrawn == first_drawings * 2


@pytest.mark.parametrize("scale", [1.0, 1e8, 1e-7])
def test_the_title_sits_where_matplotlib_would_place_it(scale):
    history = [scale * 0.9**i for i in range(60)]
    ours = plot.loss_plot(history, loss="mean")
    figure = plot._LossFigure()
    set_title = figure.axes.set_title
    figure.axes.set_title = lambda title, **_: set_title(title)  # matplotlib's own placement
    assert figure.render(history, "mean") == ours
