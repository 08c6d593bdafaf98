"""MXNet, imported the one way this project can use it: ``from linreg._mxnet import mx``.

mxnet 1.9.1 is the last release and needs three things before and as it loads: the
``numpy.bool`` alias that numpy 1.24 removed, the engine choice (an environment variable
read at import), and a quiet start of that engine. Everything else imports MXNet from here.
"""

from __future__ import annotations

import os

import numpy as np

if "bool" not in vars(np):
    np.bool = bool
# Training is a hundred tiny operations in a row: MXNet's default engine hands each one to
# a worker thread and waits, which costs more than the arithmetic. The synchronous engine
# does not; large operations still use OpenMP threads. An explicit setting wins.
os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")

import mxnet as mx  # noqa: E402
from mxnet import autograd, nd  # noqa: E402

__all__ = ["autograd", "mx", "nd"]


def _start_engine_quietly() -> None:
    """Start the engine now, without the line it logs to stderr for a non-default engine
    (it would sit among the handler's JSON log lines and the CLI's output)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            nd.zeros(1).wait_to_read()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_start_engine_quietly()
