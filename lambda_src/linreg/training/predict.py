"""Applying a model's parameters to new rows: a CSV stream in, the same rows with a
``predicted_<target>`` column out, a block at a time (memory bounded by the block size)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO

import numpy as np
import pandas as pd

from linreg.errors import InputError
from linreg.spec import spec_of_model
from linreg.training.data import (
    Readable,
    line_blocks,
    plain,
    predictors,
    split_header,
    text_frame,
)


def predict(params: dict, data: bytes) -> bytes:
    """The input CSV's rows with a ``predicted_<target>`` column added, as CSV bytes.

    ``params`` is a run's params.json: its weights apply to raw features (a standardized
    model's scaling is already folded in), in its own feature order.
    """
    out = io.BytesIO()
    predict_stream(params, io.BytesIO(data), out)
    return out.getvalue()


def predict_stream(
    params: dict,
    stream: Readable,
    out: IO[bytes],
    *,
    max_bytes: int | None = None,
    each_block: Callable[[int], None] | None = None,
) -> int:
    """``predict`` on a stream (plain or gzip, at most ``max_bytes`` uncompressed),
    written to ``out`` a block at a time; returns the rows predicted. ``each_block`` is
    called with the rows so far before each block (to check a deadline, say)."""
    spec = spec_of_model(params)
    if params["features"] != list(spec.features):
        raise InputError(
            "bad_model",
            f"the model's features {params['features']} do not match its dataset {spec.name!r}",
        )
    weights = np.array([params["weights"][name] for name in params["features"]])
    column = f"predicted_{params['target']}"
    header, blocks = split_header(line_blocks(plain(stream, max_bytes)))
    rows, headed = 0, False
    for block, first_line in blocks:
        if each_block is not None:
            each_block(rows)
        frame = text_frame(block, first_line, header)
        frame[column] = predictors(frame, spec) @ weights + params["bias"]
        out.write(frame.to_csv(index=False, header=not headed).encode())
        rows, headed = rows + len(frame), True
    if not headed:
        # No data lines: the header alone, once its columns are checked.
        frame = pd.DataFrame(columns=header, dtype=str)
        frame[column] = predictors(frame, spec) @ weights + params["bias"]
        out.write(frame.to_csv(index=False).encode())
    return rows
