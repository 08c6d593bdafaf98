"""The loss curve as a PNG. Needs no display; knows nothing of runs or storage."""

from __future__ import annotations

import functools
import io
import threading


def loss_plot(
    loss_history: list[float], *, loss: str, iterations: list[int] | None = None
) -> bytes:
    """The tutorial's loss curve (loss per iteration) as PNG bytes; ``iterations`` are the
    points' iteration numbers when the curve is a sample (default 1, 2, ...)."""
    return _loss_figure().render(loss_history, loss, iterations)


class _LossFigure:
    """One figure per process, redrawn with each run's curve: a warm invocation skips
    building it. The PNG is byte-for-byte what a new figure gives (a test checks)."""

    def __init__(self) -> None:
        # Figure (not pyplot) draws with the Agg canvas and keeps no global state.
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 4), dpi=100)
        # Fixed margins: tight_layout would measure every label on each drawing.
        self.figure.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.12)
        self.axes = self.figure.add_subplot()
        (self.line,) = self.axes.plot([], [])
        self.axes.set_xlabel("iteration")
        self.axes.grid(alpha=0.3)
        self.lock = threading.Lock()

    def render(
        self, loss_history: list[float], loss: str, iterations: list[int] | None = None
    ) -> bytes:
        with self.lock:
            self.line.set_data(iterations or range(1, len(loss_history) + 1), loss_history)
            self.axes.relim()
            self.axes.autoscale_view()
            # y given: otherwise matplotlib measures every tick label on each drawing to see
            # whether the title must move up, and nothing here sits above the axes.
            self.axes.set_title(f"Training - {loss} loss", y=1.0)
            self.axes.set_ylabel(f"{loss} squared error")
            return png(self.figure)


def png(figure) -> bytes:
    """A matplotlib ``Figure`` as PNG bytes."""
    buffer = io.BytesIO()
    # Light compression: faster to write, a few kB larger.
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


@functools.cache
def _loss_figure() -> _LossFigure:
    return _LossFigure()
