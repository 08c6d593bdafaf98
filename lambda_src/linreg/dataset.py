"""CSV bytes → validated iris table → features, target and the train/test split.

Every problem a user can fix is raised as ``InputError`` with a stable code and a
message naming the column and line. Knows nothing of S3 or MXNet.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linreg.errors import InputError

TARGET = "sepal_length"
NUMERIC_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES_COLUMN = "iris"
REQUIRED_COLUMNS = (*NUMERIC_COLUMNS, SPECIES_COLUMN)
SPECIES = ("setosa", "versicolor", "virginica")
# The tutorial's features: three measurements and two 0/1 species indicators
# (virginica is the baseline level, so it has no column).
FEATURES = ("sepal_width", "petal_length", "petal_width", "i_setosa", "i_versicolor")
# A wider file is not an iris export; refusing it early keeps memory bounded.
MAX_COLUMNS = 100
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Table:
    """The validated data: numeric columns as float64, species as canonical names."""

    frame: pd.DataFrame
    ignored_columns: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Split:
    """Features and target, cut into train and test parts. ``y`` is (n, 1), never (n,)."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray


def load_table(data: bytes, *, max_bytes: int | None = None) -> Table:
    """Parse and validate an iris CSV, plain or gzip-compressed.

    Column order does not matter; extra columns are ignored. ``max_bytes`` bounds the
    uncompressed size (a small .gz can hold a huge file).
    """
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(data, max_bytes)
    raw = _parse(_decode(data))
    header = [str(name).strip() for name in raw.iloc[0]]
    _check_header(header)
    body = raw.iloc[1:]
    body.columns = header
    # Blank lines are kept by the parser so that row labels stay line numbers; drop them now.
    body = body[(body != "").any(axis=1)]
    if body.empty:
        raise InputError("no_data", "the file has a header but no data rows")
    frame = pd.DataFrame(index=body.index)
    for column in NUMERIC_COLUMNS:
        frame[column] = _numbers(body[column].str.strip(), column)
    frame[SPECIES_COLUMN] = _species(body[SPECIES_COLUMN].str.strip())
    ignored = tuple(name for name in header if name not in REQUIRED_COLUMNS)
    return Table(
        frame=frame.reset_index(drop=True),
        ignored_columns=ignored,
        warnings=_species_warnings(frame[SPECIES_COLUMN]),
    )


def features(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's design matrix (n, 5) and target (n, 1), both float64."""
    frame = table.frame
    X = np.column_stack(
        [
            frame["sepal_width"],
            frame["petal_length"],
            frame["petal_width"],
            frame[SPECIES_COLUMN] == "setosa",
            frame[SPECIES_COLUMN] == "versicolor",
        ]
    ).astype(np.float64)
    y = frame[TARGET].to_numpy(dtype=np.float64).reshape(-1, 1)
    return X, y


def split(X: np.ndarray, y: np.ndarray, *, test_size: float, seed: int) -> Split:
    """scikit-learn's ``train_test_split`` on row positions, as the tutorial splits its frame."""
    from sklearn.model_selection import train_test_split

    rows = len(X)
    test_rows = math.ceil(test_size * rows)
    needed = _min_rows(test_size, X.shape[1])
    if rows < needed or test_rows < 1:
        raise InputError(
            "too_few_rows",
            f"{rows} data rows is too few: with a {test_size:g} test fraction and "
            f"{X.shape[1]} features at least {needed} rows are needed",
        )
    train_index, test_index = train_test_split(
        np.arange(rows), test_size=test_size, random_state=seed
    )
    return Split(
        X_train=X[train_index],
        X_test=X[test_index],
        y_train=y[train_index],
        y_test=y[test_index],
        train_index=train_index,
        test_index=test_index,
    )


def _min_rows(test_size: float, n_features: int) -> int:
    """Fewest rows giving one test row and a train set with a row per parameter."""
    rows = 2
    while rows - math.ceil(test_size * rows) < n_features + 1:
        rows += 1
    return rows


def _gunzip(data: bytes, max_bytes: int | None) -> bytes:
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    try:
        limit = 0 if max_bytes is None else max_bytes + 1
        text = inflate.decompress(data, limit)
    except zlib.error as error:
        raise InputError(
            "bad_gzip", f"the file looks gzip-compressed but is damaged: {error}"
        ) from None
    if max_bytes is not None and len(text) > max_bytes:
        raise InputError(
            "too_large",
            f"the file uncompresses to more than {max_bytes:,} bytes (LINREG_MAX_INPUT_BYTES)",
        )
    if not inflate.eof:
        raise InputError("bad_gzip", "the gzip data is truncated")
    return text


def _species_warnings(species: pd.Series) -> tuple[str, ...]:
    present = sorted(set(species))
    if len(present) == len(SPECIES):
        return ()
    return (
        f"only {', '.join(present)} present: the species indicator columns are constant, so "
        "the model cannot tell species apart",
    )


def _decode(data: bytes) -> str:
    if not data.strip():
        raise InputError("empty_file", "the file is empty")
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet exports put first.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            "bad_encoding",
            f"the file is not UTF-8 text (bad byte at offset {error.start}); "
            "export it as UTF-8 CSV",
        ) from None


def _parse(text: str) -> pd.DataFrame:
    try:
        # Everything as text, blanks kept as "": conversion below can then say which
        # cell is wrong. header=None keeps duplicate names visible (pandas would rename them).
        return pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        detail = str(error).replace("Error tokenizing data. C error: ", "").strip()
        raise InputError("malformed_csv", f"the file is not valid CSV: {detail}") from None


def _check_header(header: list[str]) -> None:
    if len(header) > MAX_COLUMNS:
        raise InputError(
            "too_many_columns", f"the file has {len(header)} columns; at most {MAX_COLUMNS} allowed"
        )
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        raise InputError("duplicate_columns", f"duplicate column(s): {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file seems to use another delimiter; columns must be comma-separated)"
        raise InputError(
            "missing_columns",
            f"missing column(s): {', '.join(missing)}; expected a header with "
            f"{','.join(REQUIRED_COLUMNS)}{hint}",
        )


def _numbers(cells: pd.Series, column: str) -> pd.Series:
    _check_no_blanks(cells, column)
    values = pd.to_numeric(cells, errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        line = _line(cells.index[bad.argmax()])
        raise InputError(
            "non_numeric",
            f"column {column}, line {line}: {cells[bad].iloc[0]!r} is not a finite number",
        )
    return values.astype(np.float64)


def _species(cells: pd.Series) -> pd.Series:
    _check_no_blanks(cells, SPECIES_COLUMN)
    # Accept the UCI spelling ("Iris-setosa") and any letter case.
    names = cells.str.lower().str.removeprefix("iris-")
    unknown = ~names.isin(SPECIES)
    if unknown.any():
        line = _line(cells.index[unknown.argmax()])
        raise InputError(
            "unknown_species",
            f"column {SPECIES_COLUMN}, line {line}: {cells[unknown].iloc[0]!r} is not one of "
            f"{', '.join(SPECIES)}",
        )
    return names


def _check_no_blanks(cells: pd.Series, column: str) -> None:
    blank = cells == ""
    if blank.any():
        line = _line(cells.index[blank.argmax()])
        raise InputError("missing_value", f"column {column}, line {line}: the value is blank")


def _line(label: int) -> int:
    # Row labels count from 0 at the header line; editors count lines from 1.
    return int(label) + 1
