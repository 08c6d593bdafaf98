"""A run's figures as PNGs: the loss curve, the fit on test rows, the weights. Needs no
display; knows nothing of runs or storage.

Every figure reads without colour: series differ by marker and line style, and axes name
their quantity and unit.
"""

from __future__ import annotations

import functools
import io
import threading

import numpy as np

# Histogram bars: enough to show a residual distribution's shape on 2,000 points.
MAX_BINS = 30
# Colours kept in a figure's PNG: anti-aliased edges need a few dozen shades.
PALETTE_COLOURS = 64


def loss_plot(
    loss_history: list[float],
    *,
    loss: str,
    iterations: list[int] | None = None,
    optimum: float | None = None,
    unit: str = "",
) -> bytes:
    """The tutorial's loss curve (loss per iteration) on a log scale, with the closed-form
    ``optimum``'s loss as a dashed reference line; ``iterations`` are the points' iteration
    numbers when the curve is a sample (default 1, 2, ...), ``unit`` the target's."""
    return _loss_figure().render(loss_history, loss, iterations, optimum, _plain(unit))


def fit_plot(actual: np.ndarray, predicted: np.ndarray, *, target: str, unit: str = "") -> bytes:
    """Predicted against actual for test rows (the diagonal is a perfect prediction), and
    a histogram of their residuals, actual − predicted."""
    return _fit_figure().render(actual, predicted, _quantity(target, unit))


def weights_plot(
    features: list[str],
    trained: list[float],
    closed_form: list[float],
    *,
    target: str,
    unit: str = "",
) -> bytes:
    """Each feature's trained weight beside its closed-form (least-squares) weight."""
    label = f"weight ({_plain(unit) or 'units'} of {_plain(target)} per unit of the feature)"
    names = [_plain(name) for name in features]
    return _weights_figure(len(features)).render(names, trained, closed_form, label)


def png(figure) -> bytes:
    """A matplotlib ``Figure`` as a PNG of at most ``PALETTE_COLOURS`` colours: a quarter
    of the bytes of full colour, and a figure of lines, text and flat fills looks the same."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    # Drawn to pixels and encoded once, as a palette image (savefig would encode full
    # colour first).
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    paletted = pixels.quantize(PALETTE_COLOURS, Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    paletted.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


class _LossFigure:
    """One figure per process, redrawn with each run's curve: a warm invocation skips
    building it. The PNG is byte-for-byte what a new figure gives (a test checks)."""

    def __init__(self) -> None:
        # Figure (not pyplot) draws with the Agg canvas and keeps no global state.
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 4), dpi=100)
        # Fixed margins: tight_layout would measure every label on each drawing.
        self.figure.subplots_adjust(left=0.13, right=0.97, top=0.92, bottom=0.12)
        self.axes = self.figure.add_subplot()
        self.axes.set_yscale("log")
        # Markers on a few points, so the curve reads apart from the dashed optimum in grey.
        (self.line,) = self.axes.plot([], [], "-o", markersize=4, label="gradient descent")
        self.optimum = self.axes.axhline(
            1.0, color="black", linestyle="--", linewidth=1, label="closed-form optimum"
        )
        self.axes.set_xlabel("iteration")
        self.axes.grid(alpha=0.3)
        _fixed_label_positions(self.axes)
        self.lock = threading.Lock()

    def render(
        self,
        loss_history: list[float],
        loss: str,
        iterations: list[int] | None = None,
        optimum: float | None = None,
        unit: str = "",
    ) -> bytes:
        with self.lock:
            self.line.set_data(iterations or range(1, len(loss_history) + 1), loss_history)
            self.line.set_markevery(max(1, len(loss_history) // 10))
            # A log axis cannot show a loss of zero (an exact fit): then no reference line.
            height = optimum if optimum is not None and optimum > 0 else None
            self.optimum.set_visible(height is not None)
            self.optimum.set_ydata([height, height] if height is not None else [1.0, 1.0])
            self.axes.relim(visible_only=True)
            self.axes.autoscale_view()
            # y given: otherwise matplotlib measures every tick label on each drawing to see
            # whether the title must move up, and nothing here sits above the axes.
            self.axes.set_title(f"Training - {loss} loss", y=1.0)
            what = "mean squared error" if loss == "mean" else "sum of squared errors"
            self.axes.set_ylabel(f"{what}{f' ({unit}²)' if unit else ''}, log scale")
            shown_lines = [self.line, self.optimum] if height is not None else [self.line]
            legend = self.axes.legend(handles=shown_lines, loc="upper right")
            try:
                return png(self.figure)
            finally:
                legend.remove()


class _FitFigure:
    """Predicted against actual beside the residuals' histogram: one figure per process,
    redrawn for each run, like ``_LossFigure`` (a test checks a redrawing is what a new
    figure draws)."""

    def __init__(self) -> None:
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(9, 4), dpi=100)
        self.figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.14, wspace=0.28)
        self.scatter, self.histogram = self.figure.subplots(1, 2)
        (self.diagonal,) = self.scatter.plot([], [], "k--", linewidth=1, label="perfect prediction")
        (self.points,) = self.scatter.plot(
            [], [], "o", markersize=4, fillstyle="none", label="test row"
        )
        self.scatter.legend(loc="upper left")
        # y given: matplotlib would otherwise measure every tick label to place the title.
        self.scatter.set_title("Predicted against actual", y=1.0)
        # One outlined, filled step shape: redrawn by new counts, where bars would be
        # rebuilt one by one.
        self.bars = self.histogram.stairs([0], [0, 1], fill=True, edgecolor="black", linewidth=0.8)
        self.histogram.axvline(0, color="black", linestyle=":", linewidth=1)
        self.histogram.set_ylabel("test rows")
        self.histogram.set_title("Residuals", y=1.0)
        for axes in (self.scatter, self.histogram):
            axes.grid(alpha=0.3)
            _fixed_label_positions(axes)
        self.lock = threading.Lock()

    def render(self, actual: np.ndarray, predicted: np.ndarray, quantity: str) -> bytes:
        with self.lock:
            low = float(min(actual.min(), predicted.min()))
            high = float(max(actual.max(), predicted.max()))
            self.diagonal.set_data([low, high], [low, high])
            self.points.set_data(actual, predicted)
            # The same range on both axes: a perfect prediction is the diagonal, at 45°.
            margin = 0.05 * (high - low) or 1.0
            self.scatter.set_xlim(low - margin, high + margin)
            self.scatter.set_ylim(low - margin, high + margin)
            self.scatter.set_xlabel(f"actual {quantity}")
            self.scatter.set_ylabel(f"predicted {quantity}")
            residuals = actual - predicted
            bins = int(min(MAX_BINS, max(5, np.sqrt(len(residuals)))))
            counts, edges = np.histogram(residuals, bins=bins)
            self.bars.set_data(counts, edges)
            self.histogram.set_xlim(
                edges[0] - 0.05 * np.ptp(edges), edges[-1] + 0.05 * np.ptp(edges)
            )
            self.histogram.set_ylim(0, 1.05 * counts.max())
            self.histogram.set_xlabel(f"residual, actual − predicted {quantity}")
            return png(self.figure)


class _WeightsFigure:
    """Trained and closed-form weights, one row per feature: one figure per process and
    number of features, redrawn for each run."""

    def __init__(self, rows: int) -> None:
        from matplotlib.figure import Figure

        height = 1.6 + 0.35 * rows
        self.figure = Figure(figsize=(7, height), dpi=100)
        self.axes = self.figure.add_subplot()
        self.rows = np.arange(rows)[::-1]  # the first feature on top, as in the table
        self.axes.axvline(0, color="black", linestyle=":", linewidth=1)
        (self.closed_form,) = self.axes.plot(
            [], [], "s", markersize=9, fillstyle="none", label="closed form"
        )
        (self.trained,) = self.axes.plot([], [], "o", markersize=5, label="trained")
        self.axes.set_ylim(-0.7, rows - 0.3)
        self.axes.set_title("Weights: trained and closed form", y=1.0)
        self.axes.grid(alpha=0.3, axis="x")
        # Beside the axes: inside, it would hide a weight wherever it went.
        self.axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        self.lock = threading.Lock()

    def render(
        self, features: list[str], trained: list[float], closed_form: list[float], label: str
    ) -> bytes:
        with self.lock:
            height = self.figure.get_figheight()
            # Margins from the longest name (about 7 pixels a character): tight_layout
            # would measure every label, at twice the cost of the drawing.
            left = min(0.4, (20 + 7 * max(map(len, features))) / 700)
            self.figure.subplots_adjust(
                left=left, right=0.76, top=1 - 0.45 / height, bottom=0.6 / height
            )
            self.closed_form.set_data(closed_form, self.rows)
            self.trained.set_data(trained, self.rows)
            self.axes.set_yticks(self.rows, features)
            self.axes.relim()
            self.axes.autoscale_view(scaley=False)
            self.axes.set_xlabel(label)
            return png(self.figure)


def _fixed_label_positions(axes) -> None:
    # Axis labels at set places: otherwise matplotlib measures every tick label on each
    # drawing to keep the axis label clear of them.
    axes.xaxis.set_label_coords(0.5, -0.1)
    axes.yaxis.set_label_coords(-0.1, 0.5)


def _quantity(name: str, unit: str) -> str:
    return f"{_plain(name)} ({_plain(unit)})" if unit else _plain(name)


def _plain(text: str) -> str:
    # A name from a dataset description is text: matplotlib would read "$...$" as math,
    # and refuse a malformed formula.
    return text.replace("$", r"\$")


@functools.cache
def _fit_figure() -> _FitFigure:
    return _FitFigure()


@functools.cache
def _weights_figure(rows: int) -> _WeightsFigure:
    return _WeightsFigure(rows)


@functools.cache
def _loss_figure() -> _LossFigure:
    return _LossFigure()


# Upload times labelled on a runs plot's axis: more would overlap.
MAX_RUN_LABELS = 8


def runs_plot(times: list[str], test_mse: list[float], baseline: list[float | None]) -> bytes:
    """A model's runs, oldest first: each one's test MSE (solid, circles) and its closed-form
    baseline's (dashed, hollow squares); ``times`` label the runs (their upload times)."""
    return png(runs_figure(times, test_mse, baseline))


def runs_figure(times: list[str], test_mse: list[float], baseline: list[float | None]):
    """``runs_plot``'s figure, before it is drawn."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.6), dpi=100)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.3)
    axes = figure.add_subplot()
    runs = np.arange(len(times))
    # A run without a baseline (an older report) leaves a gap in the dashed line.
    best = np.array([np.nan if value is None else value for value in baseline], dtype=float)
    axes.plot(runs, test_mse, "o-", markersize=5, label="trained")
    axes.plot(runs, best, "s--", markersize=7, fillstyle="none", label="closed-form baseline")
    every = -(-len(times) // MAX_RUN_LABELS)
    axes.set_xticks(runs[::every], times[::every], rotation=25, ha="right")
    axes.set_xlim(-0.5, len(times) - 0.5)
    axes.set_xlabel("run (upload time)")
    shown = np.array([*test_mse, *best], dtype=float)
    shown = shown[np.isfinite(shown) & (shown > 0)]
    # MSEs of one model can differ by orders of magnitude (a diverging setting, a new preset).
    logarithmic = len(shown) > 0 and shown.max() > 100 * shown.min()
    if logarithmic:
        axes.set_yscale("log")
    axes.set_ylabel("test MSE (target units²)" + (", log scale" if logarithmic else ""))
    # Set places, as in the run's figures: nothing to measure on each drawing.
    axes.set_title("Test MSE per run, oldest to newest", y=1.0)
    axes.yaxis.set_label_coords(-0.08, 0.5)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return figure
