"""A block of CSV lines → validated features X, target y and level codes; the design matrix.

A fast typed parse (pyarrow's CSV reader, else pandas') handles clean blocks; anything
doubtful goes through a careful text parse that names the exact cell to fix, from the
block's lines as the file numbers them and the checks of each cell (``checks``). Every
problem a user can fix is an ``InputError`` with a stable code and a message naming the
column and line. Knows nothing of S3 or MXNet.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from linreg.errors import InputError, excerpt_name
from linreg.spec import IRIS, Spec
from linreg.training.data.checks import (
    MAX_MAGNITUDE,
    _check_first_row,
    _check_no_nul,
    _levels,
    _Lines,
    _malformed,
    _normalize,
    _numbers,
    _read,
    _text_frame,
    _without_blank_lines,
)
from linreg.training.data.stream import not_utf8

# A wider file is not what a spec describes; refusing it early keeps memory bounded.
MAX_COLUMNS = 100

# One block's rows: features X (m, features), target y (m, 1), level codes (m, categorical).
Parsed = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_header(header: list[str], spec: Spec) -> None:
    """The header holds each of the spec's columns exactly once (others are ignored)."""
    if len(header) > MAX_COLUMNS:
        raise InputError(
            "too_many_columns", f"the file has {len(header)} columns; at most {MAX_COLUMNS} allowed"
        )
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        names = ", ".join(excerpt_name(name) for name in duplicates)
        raise InputError("duplicate_columns", f"duplicate column(s): {names}")
    missing = [name for name in spec.required if name not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file seems to use another delimiter; columns must be comma-separated)"
        raise InputError(
            "missing_columns",
            f"missing column(s): {', '.join(missing)}; expected a header with "
            f"{','.join(spec.required)}{hint}",
        )


@dataclass(frozen=True)
class Columns:
    """Where the spec's columns sit in each row, and how many fields a row has."""

    width: int
    positions: dict[str, int]
    spec: Spec
    names: tuple[str, ...]  # the header's

    @classmethod
    def of(cls, header: list[str], spec: Spec) -> Columns:
        positions = {name: header.index(name) for name in spec.required}
        return cls(width=len(header), positions=positions, spec=spec, names=tuple(header))


def parse_block(block: bytes, first_line: int, columns: Columns) -> Parsed:
    """Features, target and level codes of one block's rows.

    pyarrow's reader takes a plain block first (``_arrow_parse``); a block it does not take
    is parsed as before it: blank lines are cut out, so that they cost no more than data, a
    fast typed parse by pandas handles clean blocks, and anything doubtful (a blank,
    non-numeric or non-finite cell, an unknown level) goes through the careful text parse,
    which names the exact cell to fix.
    """
    fast = _arrow_parse(block, columns)
    if fast is not None:
        return fast
    return _pandas_parse(block, first_line, columns)


def _pandas_parse(block: bytes, first_line: int, columns: Columns) -> Parsed:
    """``parse_block`` without pyarrow: pandas' typed parse, else the careful one."""
    lines = _without_blank_lines(block, first_line)
    if not lines.data:
        return _no_rows(columns)
    _check_no_nul(lines, columns.names)
    try:
        _check_first_row(lines, columns.width)
        fast = _fast_parse(lines.data, columns)
    except pd.errors.ParserError as error:
        raise _malformed(error, lines) from None
    except UnicodeDecodeError:
        raise not_utf8(first_line) from None
    except (ValueError, TypeError):
        fast = None
    if fast is not None:
        return fast
    return _careful_parse(lines, columns)


def predictors(frame: pd.DataFrame, spec: Spec = IRIS) -> np.ndarray:
    """The design matrix of rows to predict on: a text frame (cells as read, index = line
    numbers) that has the feature columns; the target column may be absent."""
    needed = [name for name in spec.required if name != spec.target]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InputError("missing_columns", f"missing column(s): {', '.join(missing)}")
    numbers = [_numbers(frame[name].str.strip(), name) for name in spec.numeric]
    return _design(numbers, _all_levels(frame, spec), spec)


def level_warnings(spec: Spec, seen: list[set[int]]) -> tuple[str, ...]:
    """A warning for each categorical column in which some levels never appeared."""
    warnings = []
    for (column, levels), codes in zip(spec.categorical, seen, strict=True):
        if len(codes) < len(levels):
            present = ", ".join(levels[code] for code in sorted(codes))
            warnings.append(
                f"only {present} present in column {column}: its indicator columns are "
                "constant, so the model cannot tell its levels apart"
            )
    return tuple(warnings)


def _design(numbers: list[np.ndarray], codes: np.ndarray, spec: Spec) -> np.ndarray:
    """The design matrix from the numeric feature columns and the level codes: numeric
    features, then a 0/1 column per non-baseline level."""
    # Column-major: every column is written, and later summed, as one contiguous run.
    X = np.empty((len(codes), len(spec.features)), order="F")
    for column, values in enumerate(numbers):
        X[:, column] = values
    column = len(numbers)
    for index, (_, levels) in enumerate(spec.categorical):
        for level in range(len(levels) - 1):
            X[:, column] = codes[:, index] == level
            column += 1
    return X


def _fast_parse(block: bytes, columns: Columns) -> Parsed | None:
    """Numbers as float64, levels as categories, straight into X and y: about as fast as
    pandas reads a CSV. ``None`` when the block needs the careful parse."""
    spec, position = columns.spec, columns.positions
    dtypes: dict[int, object] = {
        position[name]: np.float64 for name in (spec.target, *spec.numeric)
    }
    dtypes.update({position[column]: "category" for column, _ in spec.categorical})
    # No NA detection: a blank or "NaN" cell makes the float conversion fail (ValueError),
    # which sends the block to the careful parse, and detection costs time on every cell.
    frame = _read(block, columns.width, dtype=dtypes, na_filter=False)
    codes = _code_matrix(
        len(frame),
        [
            _level_codes(frame[position[column]], levels, spec.level_prefix)
            for column, levels in spec.categorical
        ],
    )
    numbers = [frame[position[name]].to_numpy() for name in (spec.target, *spec.numeric)]
    # NaN, infinities and huge values fail the bound; codes < 0 are blanks or unknown levels.
    if not all((np.abs(column) <= MAX_MAGNITUDE).all() for column in numbers):
        return None
    if (codes < 0).any():
        return None
    return _design(numbers[1:], codes, spec), numbers[0].reshape(-1, 1), codes


def _arrow_parse(block: bytes, columns: Columns) -> Parsed | None:
    """Numbers as float64 and levels as a dictionary, read by pyarrow's CSV reader on this
    thread without the GIL: half the CPU time of pandas' typed parse (docs/performance.md).
    ``None`` for a block it may read differently from pandas, or that has a problem, which
    the pandas parse then reads or names: one with a byte beyond ASCII (a byte-order mark,
    UTF-8 to check, levels to fold), a NUL byte or a quote (pyarrow closes a quote left
    open at the end of a block), a blank, non-numeric, non-finite or huge cell, a row of
    the wrong width, an unknown level. Blank lines are skipped, as pandas' parse cuts them;
    a line of commas or spaces is a row of the wrong cells, so it goes to pandas too."""
    if not block.isascii() or b"\x00" in block or b'"' in block:
        return None
    spec, position = columns.spec, columns.positions
    read, parse, convert = _arrow_options(columns.width, _kinds(columns))
    try:
        table = pa_csv.read_csv(
            # Arrow's zero-copy view of the bytes, not a Python file object.
            pa.BufferReader(block),
            # One chunk per column: its numbers are a view, its levels one dictionary.
            read_options=pa_csv.ReadOptions(
                column_names=read.column_names, use_threads=False, block_size=len(block) + 1
            ),
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowException:
        return None
    if table.num_rows == 0:
        return None
    if any(chunked.num_chunks != 1 for chunked in table.columns):
        return None
    numbers = [
        table.column(str(position[name])).chunk(0).to_numpy()
        for name in (spec.target, *spec.numeric)
    ]
    # NaN, infinities and huge values fail the bound; as in _fast_parse.
    if not all((np.abs(column) <= MAX_MAGNITUDE).all() for column in numbers):
        return None
    codes = _code_matrix(
        table.num_rows,
        [
            _dictionary_codes(table.column(str(position[column])).chunk(0), levels, spec)
            for column, levels in spec.categorical
        ],
    )
    if (codes < 0).any():
        return None
    return _design(numbers[1:], codes, spec), numbers[0].reshape(-1, 1), codes


def _kinds(columns: Columns) -> tuple[tuple[int, bool], ...]:
    """The spec's columns by position, each with whether it holds levels."""
    spec, position = columns.spec, columns.positions
    numeric = [(position[name], False) for name in (spec.target, *spec.numeric)]
    return (*numeric, *((position[column], True) for column, _ in spec.categorical))


@functools.cache
def _arrow_options(
    width: int, kinds: tuple[tuple[int, bool], ...]
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    """pyarrow's options for blocks of ``width`` fields: the spec's columns only, numbers
    as float64 and levels as a dictionary, no cell read as missing (a blank cell fails the
    float conversion, or is no level), no quoting (blocks with quotes go to pandas)."""
    names = [str(index) for index in range(width)]
    types = {
        str(index): pa.dictionary(pa.int32(), pa.string()) if levels else pa.float64()
        for index, levels in kinds
    }
    return (
        pa_csv.ReadOptions(column_names=names),
        pa_csv.ParseOptions(quote_char=False, double_quote=False, escape_char=False),
        pa_csv.ConvertOptions(
            column_types=types,
            include_columns=[str(index) for index, _ in kinds],
            null_values=[],
            true_values=[],
            false_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _dictionary_codes(
    column: pa.DictionaryArray, levels: tuple[str, ...], spec: Spec
) -> np.ndarray:
    """Each cell's level index, the levels named as ``_level_codes`` names them; -1 for
    other text or a blank."""
    names = _normalize(pd.Series(column.dictionary.to_pylist(), dtype=object), spec.level_prefix)
    lookup = np.array([levels.index(name) if name in levels else -1 for name in names], np.int16)
    return lookup[column.indices.to_numpy()]


def _level_codes(column: pd.Series, levels: tuple[str, ...], prefix: str) -> np.ndarray:
    """Each cell's level index; -1 for other text or a blank."""
    names = _normalize(column.cat.categories.astype(str).to_series(), prefix)
    known = [levels.index(name) if name in levels else -1 for name in names]
    lookup = np.array([*known, -1], dtype=np.int16)
    # cat.codes is -1 for a blank cell, which indexes the lookup's last entry.
    return lookup[column.cat.codes.to_numpy()]


def _no_rows(columns: Columns) -> Parsed:
    spec = columns.spec
    X = np.empty((0, len(spec.features)), order="F")
    return X, np.empty((0, 1)), np.empty((0, len(spec.categorical)), dtype=np.int16)


def _careful_parse(lines: _Lines, columns: Columns) -> Parsed:
    """Everything as text, blanks kept as "": the first bad cell is reported by name and line."""
    spec = columns.spec
    header = [str(position) for position in range(columns.width)]
    frame = _text_frame(lines, header)
    frame = frame[[header[columns.positions[name]] for name in spec.required]]
    frame = frame.set_axis(spec.required, axis=1)
    y = _numbers(frame[spec.target].str.strip(), spec.target).reshape(-1, 1)
    numbers = [_numbers(frame[name].str.strip(), name) for name in spec.numeric]
    codes = _all_levels(frame, spec)
    return _design(numbers, codes, spec), y, codes


def _all_levels(frame: pd.DataFrame, spec: Spec) -> np.ndarray:
    codes = [_levels(frame[column], column, spec) for column, _ in spec.categorical]
    return _code_matrix(len(frame), codes)


def _code_matrix(rows: int, codes: list[np.ndarray]) -> np.ndarray:
    """Each categorical column's level codes side by side, (rows, 0) when there are none.
    Small integers, written in place: every array made per block is memory the kernel
    must map afresh."""
    matrix = np.empty((rows, len(codes)), dtype=np.int16)
    for index, column_codes in enumerate(codes):
        matrix[:, index] = column_codes
    return matrix
