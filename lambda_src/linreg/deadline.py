"""When a run must stop, and what surely cannot be done before then.

Lambda kills an invocation at its timeout, with no failure record, and then retries it.
A run therefore gets a deadline some seconds before that: parsing and training check it,
and a run that reaches it stops with a ``RunStopped`` (code ``timeout``) saying what it
had done, while there is still time to write its failure record. The estimates refuse up
front what cannot fit at all; their rates are deliberately optimistic (docs/performance.md),
so they refuse only what is hopeless, and the deadline catches the rest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from linreg.errors import RunStopped

# Time kept back for the failure record (one small PUT, with boto3's retries): this share
# of the time there is, at least the first and at most the second figure.
MARGIN_SHARE = 0.2
MARGIN_SECONDS = (1.0, 10.0)
# Faster than this machine parses, and than any Lambda size would (optimistic bounds).
PARSE_BYTES_PER_SECOND = 500e6
STATISTICS_SECONDS_PER_ITERATION = 50e-6
TUTORIAL_SECONDS_PER_CELL_ITERATION = 1e-9  # per row and feature, each iteration


@dataclass(frozen=True)
class Deadline:
    """A point in ``time.monotonic()`` time; ``math.inf`` for a run without one (the CLI)."""

    at: float = math.inf

    @classmethod
    def for_remaining(cls, seconds: float) -> Deadline:
        """The deadline of an invocation with ``seconds`` left, its margin kept back."""
        least, most = MARGIN_SECONDS
        margin = min(most, max(least, MARGIN_SHARE * seconds))
        return cls(time.monotonic() + seconds - margin)

    def seconds_left(self) -> float:
        return self.at - time.monotonic()

    def check(self, doing: str, **progress: float) -> None:
        """Raise ``timeout`` once the deadline has passed; ``progress`` says how far the
        run got (rows read, iterations run...), for its failure record."""
        if time.monotonic() >= self.at:
            done = ", ".join(
                f"{name.replace('_', ' ')} {value:,}" for name, value in progress.items()
            )
            raise RunStopped(
                "timeout",
                f"the run ran out of time while {doing}"
                + (f" ({done})" if done else "")
                + "; a smaller file or fewer iterations would fit the function's time limit",
                {"stage": doing, **progress},
            )

    def expect(self, seconds: float, doing: str) -> None:
        """Refuse now what needs at least ``seconds`` more than there is left."""
        left = self.seconds_left()
        if seconds > left:
            raise RunStopped(
                "timeout",
                f"{doing} needs at least {seconds:,.0f} s and the run has {max(left, 0):,.0f} s "
                "left before the function's time limit; a smaller file or fewer iterations "
                "would fit",
                {"stage": "estimate", "needs_seconds": round(seconds, 1)},
            )


def parsing_seconds(size_bytes: int) -> float:
    """The least time reading and parsing ``size_bytes`` of CSV takes."""
    return size_bytes / PARSE_BYTES_PER_SECOND


def training_seconds(*, engine: str, iterations: int, rows: int, n_features: int) -> float:
    """The least time ``iterations`` of gradient descent take with ``engine``."""
    if engine == "tutorial":
        return iterations * rows * (n_features + 1) * TUTORIAL_SECONDS_PER_CELL_ITERATION
    return iterations * STATISTICS_SECONDS_PER_ITERATION
