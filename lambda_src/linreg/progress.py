"""Showing a person how a long run is going: one terminal line, rewritten in place.

The command line turns it on for the length of a command (``on_terminal``), and
``pipeline.run`` asks for a display per run (``for_run``). A context variable carries it
between the two, so the Lambda handler between them needs no parameter for it; the Lambda
function never turns it on, so its logs stay JSON only.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

# Often enough to look live, rarely enough to cost nothing next to a training step.
REDRAW_SECONDS = 0.1
# Back to the line's start, and clear what a longer previous text left behind.
_REWRITE, _CLEAR_TO_END = "\r", "\x1b[K"

_terminal: ContextVar[TextIO | None] = ContextVar("linreg_progress_terminal", default=None)


@contextmanager
def on_terminal(stream: TextIO) -> Iterator[None]:
    """Runs started within the block show their progress on ``stream`` if it is a terminal;
    on a pipe or a file nothing at all is written."""
    if not is_terminal(stream):
        yield
        return
    token = _terminal.set(stream)
    try:
        yield
    finally:
        _terminal.reset(token)


@contextmanager
def for_run(*, total_bytes: int | None, iterations: int) -> Iterator[Progress | None]:
    """One run's display, where ``on_terminal`` turned progress on, else None. Its last line
    is drawn and ended however the run ends, so an error message starts on a line of its own."""
    stream = _terminal.get()
    if stream is None:
        yield None
        return
    shown = Progress(stream, total_bytes=total_bytes, iterations=iterations)
    try:
        yield shown
    finally:
        shown.close()


def is_terminal(stream: TextIO) -> bool:
    # A dumb terminal (Emacs' shell, for one) prints the clearing sequence as text.
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except ValueError:  # closed
        return False


class Progress:
    """One run on one line: the bytes and rows read, then (on a line of its own) the
    training iterations. Drawn first ``redraw_seconds`` after the start, then at most every
    ``redraw_seconds``; the latest state is always drawn before a line ends."""

    def __init__(
        self,
        stream: TextIO,
        *,
        total_bytes: int | None,
        iterations: int,
        clock: Callable[[], float] = time.monotonic,
        redraw_seconds: float = REDRAW_SECONDS,
    ) -> None:
        self.stream, self.total_bytes, self.iterations = stream, total_bytes, iterations
        self.clock, self.redraw_seconds = clock, redraw_seconds
        # The first frame waits one redraw period, as if one were drawn at the start: a
        # run that quick needs no live line, and the format sniff's first 2 bytes are
        # never shown as if they were the progress made.
        self.started = self.updated = self.drawn_at = clock()
        self.training = False
        self.bytes_read = self.rows = self.iteration = 0
        self.loss = math.nan
        self.undrawn = False  # an update not on the screen yet
        self.on_screen = False  # the current line has been drawn at least once
        self.width = _width(stream)

    def read(self, bytes_read: int) -> None:
        self.bytes_read = bytes_read
        self._changed()

    def parsed(self, rows: int) -> None:
        self.rows = rows
        self._changed()

    def trained(self, iteration: int, loss: float) -> None:
        """After iteration ``iteration`` (from 0), as ``model.train`` reports it."""
        if not self.training:
            self._end_line()
            self.training = True
        self.iteration, self.loss = iteration + 1, loss
        self._changed()

    def close(self) -> None:
        self._end_line()

    def text(self) -> str:
        seconds = self.updated - self.started
        if self.training:
            return training_text(self.iteration, self.iterations, self.loss, seconds)
        return reading_text(self.bytes_read, self.total_bytes, self.rows, seconds)

    def _changed(self) -> None:
        self.updated = self.clock()
        self.undrawn = True
        if self.updated - self.drawn_at >= self.redraw_seconds:
            self._draw()

    def _draw(self) -> None:
        text = self.text()[: self.width - 1] if self.width else self.text()
        self.stream.write(_REWRITE + text + _CLEAR_TO_END)
        self.stream.flush()
        self.drawn_at, self.undrawn, self.on_screen = self.updated, False, True

    def _end_line(self) -> None:
        if self.undrawn:
            self._draw()
        if self.on_screen:
            self.stream.write("\n")
            self.stream.flush()
        self.on_screen = False


def reading_text(bytes_read: int, total_bytes: int | None, rows: int, seconds: float) -> str:
    """``read 12.3 MB of 240.0 MB (5%) · 1,234,567 rows · 3.2 s``; without a total, no
    percentage."""
    read = f"read {human_bytes(bytes_read)}"
    if total_bytes:
        percent = min(100, 100 * bytes_read // total_bytes)
        read += f" of {human_bytes(total_bytes)} ({percent}%)"
    return f"{read} · {rows:,} rows · {seconds:.1f} s"


def training_text(iteration: int, iterations: int, loss: float, seconds: float) -> str:
    """``iteration 40 of 100 · loss 0.3412 · 5.1 s``, the seconds since the run started."""
    return f"iteration {iteration:,} of {iterations:,} · loss {loss:.4g} · {seconds:.1f} s"


def human_bytes(count: int) -> str:
    """In decimal units, as S3 and disks count: ``512 B``, ``3.9 kB``, ``240.0 MB``."""
    for size, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def _width(stream: TextIO) -> int:
    """The terminal's columns, or 0 if unknown: a longer line would wrap, and a wrapped line
    cannot be rewritten in place."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
