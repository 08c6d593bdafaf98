"""Applying a model's parameters to new rows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from linreg import dataset
from linreg.errors import InputError
from linreg.spec import IRIS, Spec


def predict(params: dict, data: bytes) -> bytes:
    """The input CSV's rows with a ``predicted_<target>`` column added, as CSV bytes.

    ``params`` is a run's params.json: its weights apply to raw features (a standardized
    model's scaling is already folded in), in its own feature order.
    """
    spec = Spec.from_dict(params["dataset"]) if "dataset" in params else IRIS
    if params["features"] != list(spec.features):
        raise InputError(
            "bad_model",
            f"the model's features {params['features']} do not match its dataset {spec.name!r}",
        )
    frame = _read(data)
    X = dataset.predictors(frame, spec)
    weights = np.array([params["weights"][name] for name in params["features"]])
    frame[f"predicted_{params['target']}"] = X @ weights + params["bias"]
    return frame.to_csv(index=False).encode()


def _read(data: bytes) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("bad_encoding", "the file is not UTF-8 text") from None
    if not text.strip():
        raise InputError("empty_file", "the file is empty")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise InputError("malformed_csv", f"the file is not valid CSV: {error}") from None
    frame.columns = [str(name).strip() for name in frame.columns]
    # Row labels as line numbers (header is line 1), for the validators' messages.
    frame.index = frame.index + 2
    return frame
