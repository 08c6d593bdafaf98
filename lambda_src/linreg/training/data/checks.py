"""A block's lines as the file numbers them, and every problem in them named by column and line.

The careful side of parsing. Blank and comma-only lines are cut out with each remaining
line's file line kept (``_Lines``); a block is read by pandas (``_read``, for the fast parse
too) or as text (``text_frame``); a NUL byte, a row with extra fields, pandas' own parse
errors, a blank, non-numeric, out-of-range or unknown cell each become an ``InputError``
with a stable code and a message naming the column and line to fix. Its underscored names
are for ``parse``, its one user; the package offers ``text_frame``. Knows nothing of S3 or
MXNet.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linreg.errors import InputError, excerpt, excerpt_name
from linreg.spec import Spec
from linreg.training.data.stream import not_utf8

# Beyond this, squares and their sums over many rows could overflow double precision.
MAX_MAGNITUDE = 1e100


def _check_no_nul(lines: _Lines, header: Sequence[str]) -> None:
    """Refuse a NUL byte, naming its cell. Text never holds one (a file full of them is
    usually UTF-16), and pandas' C parser ends a field at it in some releases, so that
    ``5.1\\x00xyz`` would silently be read as 5.1."""
    at = lines.data.find(b"\x00")
    if at < 0:
        return
    end = b"\n" if b"\n" in lines.data else b"\r"
    start = lines.data.rfind(end, 0, at) + 1
    stop = lines.data.find(end, at)
    row = lines.data[start : len(lines.data) if stop < 0 else stop].rstrip(b"\r")
    before = lines.data[start:at].decode("utf-8", "replace")
    try:
        column = len(next(csv.reader([before]), [""])) - 1
        cell = next(csv.reader([row.decode("utf-8", "replace")]), [""])[max(column, 0)]
    except (csv.Error, IndexError):  # a quoted field that spans lines
        column, cell = -1, row.decode("utf-8", "replace")
    line = lines.line(lines.data.count(end, 0, start))
    name = f"column {excerpt_name(header[column])}" if 0 <= column < len(header) else "a cell"
    raise InputError(
        "bad_encoding",
        f"{name}, line {line}: {excerpt(cell)} holds a NUL byte, which text never does "
        "(a UTF-16 export?); export it as UTF-8 CSV",
        line=line,
    )


def _check_first_row(lines: _Lines, width: int) -> None:
    """Refuse a first row with more fields than the header, as pandas refuses any later one:
    pandas itself would drop its extra fields (index_col=False) without a word."""
    line_end = re.search(rb"\r\n|\r|\n", lines.data)
    line = lines.data[: line_end.start()] if line_end else lines.data
    try:
        fields = next(csv.reader([line.decode("utf-8")]), [])
    except csv.Error:
        return  # a quoted field that spans lines: pandas judges the row
    if len(fields) > width:
        first_line = lines.line(0)
        raise InputError(
            "malformed_csv",
            f"the file is not valid CSV: Expected {width} fields in line {first_line}, "
            f"saw {len(fields)}",
            line=first_line,
        )


UTF8_BOM = codecs.BOM_UTF8


def _read(block: bytes, width: int, **options) -> pd.DataFrame:
    """One block as a frame whose columns are numbered by position in the header."""
    # pandas drops a byte-order mark at the start of what it reads, as a file's; a block
    # starts mid-file, so a mark there is its first cell's own. A line ahead keeps it.
    guarded = block.startswith(UTF8_BOM)
    # No usecols: it would silently accept rows with more fields than the header.
    frame = pd.read_csv(
        io.BytesIO(b"\n" + block if guarded else block),
        header=None,
        names=range(width),
        skip_blank_lines=False,  # so that row labels stay line numbers
        index_col=False,
        encoding="utf-8",
        # A block is bounded already: parse it in one go, not in pandas' smaller pieces
        # joined afterwards.
        low_memory=False,
        **options,
    )
    return frame.iloc[1:].reset_index(drop=True) if guarded else frame


def _normalize(names: pd.Series, prefix: str) -> pd.Series:
    # Any letter case, surrounding spaces, and the spec's optional prefix ("Iris-setosa").
    names = names.str.strip().str.lower()
    return names.str.removeprefix(prefix.lower()) if prefix else names


def text_frame(block: bytes, first_line: int, header: list[str]) -> pd.DataFrame:
    """One block's cells as text, blanks as "", blank lines dropped, the columns named by
    ``header`` and the rows by their line in the file."""
    return _text_frame(_without_blank_lines(block, first_line), header)


@dataclass(frozen=True)
class _Lines:
    """A block's bytes, and the file line of each of its lines."""

    data: bytes
    first_line: int
    numbers: np.ndarray | None = None  # each line's file line, once blank lines are cut

    def line(self, index: int) -> int:
        """The file line of the block's ``index``-th line (from 0)."""
        if self.numbers is None or not len(self.numbers):
            return self.first_line + index
        if index < len(self.numbers):
            return int(self.numbers[index])
        return int(self.numbers[-1]) + index - len(self.numbers) + 1


def _without_blank_lines(block: bytes, first_line: int) -> _Lines:
    """The block without its empty and comma-only lines, which the careful parse would
    drop anyway, and where the remaining lines sit in the file."""
    suspects = (b"\n\n", b"\n\r\n", b"\r\r", b"\n,")
    if not block.startswith((b"\n", b"\r", b",")) and not any(s in block for s in suspects):
        return _Lines(block, first_line)
    codes = np.frombuffer(block, dtype=np.uint8)
    end = ord("\n") if ord("\n") in codes else ord("\r")
    unterminated = not block.endswith(bytes([end]))
    if unterminated:
        codes = np.append(codes, np.uint8(end))  # the last line, ended like the others
    ends = codes == end
    # Bytes of content (not commas, \r or line ends) up to each line's end: a line that adds
    # none is blank. int32 and no per-line positions keep this to a few bytes per byte.
    content = np.cumsum((codes != ord(",")) & (codes != ord("\r")) & ~ends, dtype=np.int32)
    blank = np.diff(content[ends], prepend=np.int32(0)) == 0
    if not blank.any():
        return _Lines(block, first_line)
    line_of_byte = np.cumsum(ends, dtype=np.int32) - ends  # each byte's line, from 0
    keep = ~blank[line_of_byte]
    if unterminated:
        codes, keep = codes[:-1], keep[:-1]
    return _Lines(codes[keep].tobytes(), first_line, first_line + np.flatnonzero(~blank))


def _text_frame(lines: _Lines, header: list[str]) -> pd.DataFrame:
    if not lines.data:
        return pd.DataFrame(columns=header, dtype=str)
    _check_no_nul(lines, header)
    try:
        _check_first_row(lines, len(header))
        frame = _read(lines.data, len(header), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise _malformed(error, lines) from None
    except UnicodeDecodeError:
        raise not_utf8(lines.first_line) from None
    frame = frame.set_axis(header, axis=1).fillna("")  # short rows give NaN
    positions = frame.index.to_numpy()
    if lines.numbers is not None:
        frame.index = lines.numbers[positions]
    else:
        frame.index = positions + lines.first_line
    return frame[(frame != "").any(axis=1)]


def _numbers(cells: pd.Series, column: str) -> np.ndarray:
    _check_no_blanks(cells, column)
    values = pd.to_numeric(cells, errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        line, cell = _first(cells, bad)
        raise InputError(
            "non_numeric",
            f"column {column}, line {line}: {excerpt(cell)} is not a finite number",
            line=line,
        )
    huge = values.abs() > MAX_MAGNITUDE
    if huge.any():
        line, cell = _first(cells, huge)
        raise InputError(
            "values_out_of_range",
            f"column {column}, line {line}: {excerpt(cell)} is beyond ±{MAX_MAGNITUDE:g}, "
            "too large to square and sum: rescale the column",
            line=line,
        )
    return values.to_numpy(dtype=np.float64)


def _levels(cells: pd.Series, column: str, spec: Spec) -> np.ndarray:
    levels = dict(spec.categorical)[column]
    cells = cells.str.strip()
    _check_no_blanks(cells, column)
    names = _normalize(cells, spec.level_prefix)
    unknown = ~names.isin(levels)
    if unknown.any():
        line, cell = _first(cells, unknown)
        raise InputError(
            spec.unknown_level_code,
            f"column {column}, line {line}: {excerpt(cell)} is not one of {', '.join(levels)}",
            line=line,
        )
    return names.map(levels.index).to_numpy(dtype=np.int64)


def _check_no_blanks(cells: pd.Series, column: str) -> None:
    blank = cells == ""
    if blank.any():
        line, _ = _first(cells, blank)
        raise InputError(
            "missing_value", f"column {column}, line {line}: the value is blank", line=line
        )


def _first(cells: pd.Series, where: pd.Series) -> tuple[int, str]:
    """The file line and the text of the first of ``cells`` marked in ``where``."""
    position = int(where.to_numpy().argmax())
    return int(cells.index[position]), cells.iloc[position]


def _malformed(error: pd.errors.ParserError, lines: _Lines) -> InputError:
    """pandas' parse error, its line counted as an editor counts the file's lines: pandas
    counts the rows of a block, its "line N" from 1 and its "row N" (where an unclosed
    quote starts) from 0, and a row whose quoted value spans lines as one."""
    detail = str(error).replace("Error tokenizing data. C error: ", "").strip()
    at = re.search(r"\b(line|row) (\d+)", detail)
    if at is None:
        return InputError("malformed_csv", f"the file is not valid CSV: {detail}")
    row = int(at.group(2)) - (at.group(1) == "line")
    line = lines.line(_line_of_row(lines.data, row))
    if detail.startswith("EOF inside string"):
        message = f"line {line}: a quoted value opens here and is never closed"
    else:
        detail = f"{detail[: at.start()]}line {line}{detail[at.end() :]}"
        message = f"the file is not valid CSV: {detail}"
    return InputError("malformed_csv", message, line=line)


def _line_of_row(data: bytes, row: int) -> int:
    """The line (from 0) of ``data`` where its CSV row ``row`` (from 0) starts. Only for
    an error's message: the csv module reads rows as pandas does, but a line at a time."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    try:
        deque(itertools.islice(reader, row), maxlen=0)
    except csv.Error:  # a field past the csv module's size limit: count rows as lines
        return row
    return reader.line_num
