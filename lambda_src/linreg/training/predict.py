"""Applying a model's parameters to new rows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from linreg.errors import InputError
from linreg.spec import spec_of_model
from linreg.training.data import line_blocks, plain, predictors, split_header, text_frame


def predict(params: dict, data: bytes) -> bytes:
    """The input CSV's rows with a ``predicted_<target>`` column added, as CSV bytes.

    ``params`` is a run's params.json: its weights apply to raw features (a standardized
    model's scaling is already folded in), in its own feature order.
    """
    spec = spec_of_model(params)
    if params["features"] != list(spec.features):
        raise InputError(
            "bad_model",
            f"the model's features {params['features']} do not match its dataset {spec.name!r}",
        )
    frame = _read(data)
    X = predictors(frame, spec)
    weights = np.array([params["weights"][name] for name in params["features"]])
    frame[f"predicted_{params['target']}"] = X @ weights + params["bias"]
    return frame.to_csv(index=False).encode()


def _read(data: bytes) -> pd.DataFrame:
    """The CSV's cells as text, rows labelled by line number, with training's checks."""
    header, blocks = split_header(line_blocks(plain(io.BytesIO(data), None)))
    frames = [text_frame(block, first_line, header) for block, first_line in blocks]
    return pd.concat(frames) if frames else pd.DataFrame(columns=header, dtype=str)
