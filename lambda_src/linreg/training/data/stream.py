"""Bytes → uncompressed, size-limited stream → blocks of whole lines → header and data.

Knows nothing of columns or pandas: it hands on bytes, cut only at line ends, with the
file line number each block starts at, so later steps can name the line to fix.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Protocol, cast

import numpy as np

from linreg.contract import MAX_INPUT_BYTES_ENV
from linreg.errors import InputError, RunError

GZIP_MAGIC = b"\x1f\x8b"
BLOCK_BYTES = 2 << 20
# A line this long is not a CSV row; stop before it fills memory.
MAX_LINE_BYTES = 1 << 20

# A block and the file line number (from 1) of its first line.
Block = tuple[bytes, int]


class Readable(Protocol):
    """What every reader here takes: a file, an S3 body, or one of the wrappers below."""

    def read(self, size: int = -1, /) -> bytes: ...


def plain(stream: Readable, max_bytes: int | None) -> Readable:
    """The uncompressed bytes of ``stream``, however it arrived, at most ``max_bytes``."""
    head = stream.read(2)
    stream = _Joined(head, stream)
    if head == GZIP_MAGIC:
        stream = _Gunzipped(stream)
    return _Limited(stream, max_bytes) if max_bytes is not None else stream


def line_blocks(stream: Readable, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """Blocks of whole lines, each with the file line number (from 1) it starts at; a line
    longer than ``MAX_LINE_BYTES`` is refused, after the lines before it are handed on."""
    carry, line = b"", 1
    while True:
        chunk = stream.read(block_bytes)
        data = carry + chunk
        if not chunk:
            for block in _bounded(data, line):
                yield block, line
            return
        cut = max(data.rfind(b"\n"), -1 if b"\n" in data else data.rfind(b"\r"))
        block, carry = data[: cut + 1], data[cut + 1 :]
        for part in _bounded(block, line):
            yield part, line
        line += count_lines(block)
        # The unfinished line is too long already: stop before it fills memory. A \r at
        # its end may be the first half of its \r\n.
        if len(carry) - carry.endswith(b"\r") > MAX_LINE_BYTES:
            raise line_too_long(line)


def owned_lines(
    stream: Readable,
    start: int,
    end: int,
    block_bytes: int = BLOCK_BYTES,
    line_end: bytes = b"\n",
) -> Iterator[bytes]:
    """The lines a byte range ``[start, end)`` of a file owns, in blocks of whole lines.

    A range owns every line whose first byte lies in it, so ranges that tile a file hand out
    each line exactly once, whatever the cut. Lines end with ``line_end``, the file's
    ``line_terminator``. ``stream`` starts at byte ``max(start - 1, 0)`` of the file: unless
    ``start`` is 0, everything up to the first line end is the previous range's. Reading
    stops after the line that crosses ``end`` (or at the end of the file). A line that grows
    past ``MAX_LINE_BYTES`` is refused, numbered as the part numbers its lines (from 1).
    """
    offset = max(start - 1, 0)  # the file position of carry[0]
    carry = b""
    if start > 0:
        after = _after_first_line_end(stream, block_bytes, line_end)
        if after is None:
            return
        carry, skipped = after
        offset += skipped
    if offset >= end:
        return
    lines = 0  # handed out so far
    while True:
        # The last owned line ends at the first line end at or after byte end - 1.
        stop = carry.find(line_end, max(end - 1 - offset, 0))
        if stop >= 0:
            yield from _bounded(carry[: stop + 1], lines + 1)
            return
        whole = carry.rfind(line_end) + 1  # the bytes of whole lines in carry
        if len(carry) > block_bytes and whole:
            yield from _bounded(carry[:whole], lines + 1)
            lines += count_lines(carry[:whole])
            carry, offset, whole = carry[whole:], offset + whole, 0
        # The line after the whole ones is unfinished: stop before it fills memory. A \r
        # at its end may be the first half of its \r\n.
        if len(carry) - carry.endswith(b"\r") - whole > MAX_LINE_BYTES:
            raise line_too_long(lines + count_lines(carry[:whole]) + 1)
        chunk = stream.read(block_bytes)
        if not chunk:
            yield from _bounded(carry, lines + 1)  # the file's last line, without a line end
            return
        carry += chunk


def whole_file_lines(stream: Readable) -> Iterator[bytes]:
    """The data lines of a file read whole as one part (a .csv.gz can only be), in blocks of
    whole lines as ``owned_lines`` hands out a range's; a problem at a line is numbered as
    the part numbers its lines, from 1 after the header."""
    try:
        _, blocks = split_header(line_blocks(stream))
        for block, _ in blocks:
            yield block
    except RunError as error:
        raise error.shifted(-1) from None  # line_blocks counts the header as line 1


def _after_first_line_end(
    stream: Readable, block_bytes: int, line_end: bytes
) -> tuple[bytes, int] | None:
    """What ``stream`` holds after its first line end, and how many bytes that skipped;
    ``None`` when the stream ends first, or when the line it starts in is too long (the
    range that line starts in refuses it, so reading on would only cost time)."""
    skipped = 0
    while skipped <= MAX_LINE_BYTES:
        chunk = stream.read(block_bytes)
        if not chunk:
            return None
        found = chunk.find(line_end)
        if found >= 0:
            return chunk[found + 1 :], skipped + found + 1
        skipped += len(chunk)
    return None


def _bounded(block: bytes, first_line: int) -> Iterator[bytes]:
    """``block`` (whole lines, the first numbered ``first_line``), unless a line in it is
    longer than ``MAX_LINE_BYTES``: then the lines before that one, so that a problem
    earlier in the file is still reported first, and its refusal."""
    if not block:
        return
    start = _long_line_start(block)
    if start < 0:
        yield block
        return
    if start:
        yield block[:start]
    raise line_too_long(first_line + count_lines(block[:start]))


def _long_line_start(block: bytes) -> int:
    """Where the first line of ``block`` longer than ``MAX_LINE_BYTES`` (its line end left
    out) starts, or -1 if none is."""
    end = b"\n" if b"\n" in block else b"\r"  # as count_lines counts
    # Such a line holds a whole aligned window of half the bound, so a search for a line
    # end in each window, which finds one within a row's bytes, tells the blocks that may
    # hold one: a few searches per block, and no pass over its lines.
    window = MAX_LINE_BYTES // 2
    for at in range(0, len(block), window):
        if block.find(end, at, at + window) >= 0:
            continue
        start = block.rfind(end, 0, at) + 1
        stop = block.find(end, at + window)
        stop = len(block) if stop < 0 else stop
        crlf = end == b"\n" and block[stop - 1 : stop] == b"\r"
        if stop - start - crlf > MAX_LINE_BYTES:
            return start
    return -1


def line_terminator(head: bytes) -> bytes:
    """How a file's lines end, told from its first bytes (its header line): ``b"\\r"`` when
    the first line end is a ``\\r`` alone (old Mac files), else ``b"\\n"`` (which also ends
    ``\\r\\n`` lines)."""
    first = re.search(rb"\r\n?|\n", head)
    return b"\r" if first is not None and first.group() == b"\r" else b"\n"


def count_lines(block: bytes) -> int:
    """Line ends in ``block``: ``\\n`` (and ``\\r\\n``), or ``\\r`` alone for old Mac files."""
    # numpy counts a byte faster than bytes.count (docs/performance.md).
    codes = np.frombuffer(block, dtype=np.uint8)
    return int(np.count_nonzero(codes == ord("\n")) or np.count_nonzero(codes == ord("\r")))


def split_header(blocks: Iterator[Block]) -> tuple[list[str], Iterator[Block]]:
    """The header line's column names, and the blocks of data lines after it."""
    first = next(blocks, None)
    # Spreadsheet exports often start with a UTF-8 byte-order mark.
    block = b"" if first is None else first[0].removeprefix(b"\xef\xbb\xbf")
    if not block.strip():
        raise empty_file()
    line_end = re.search(rb"\r\n|\r|\n", block)
    end = line_end.end() if line_end else len(block)
    try:
        fields = next(csv.reader([_text(block[:end], 1).rstrip("\r\n")]), [])
    except csv.Error as error:
        raise InputError("malformed_csv", f"the header line is not valid CSV: {error}") from None
    header = [name.strip() for name in fields]
    if any("\x00" in name for name in header):
        raise InputError(
            "bad_encoding",
            "line 1: the header holds NUL bytes, which text never does (a UTF-16 export?); "
            "export it as UTF-8 CSV",
            line=1,
        )

    def data_blocks() -> Iterator[Block]:
        if block[end:]:
            yield block[end:], 2
        yield from blocks

    return header, data_blocks()


def telling_the_end(blocks: Iterator[Block], expect: Callable[[int], None]) -> Iterator[Block]:
    """``blocks`` as they come; once the last is out, ``expect`` gets the number of data
    lines (blank ones included), before the blocks still in flight are parsed."""
    last = None
    for last in blocks:
        yield last
    if last is not None:
        block, first_line = last
        unterminated = not block.endswith((b"\n", b"\r"))
        expect(first_line - 2 + count_lines(block) + unterminated)


def empty_file() -> InputError:
    return InputError("empty_file", "the file is empty")


def not_utf8(first_line: int) -> InputError:
    return InputError(
        "bad_encoding",
        f"the file is not UTF-8 text (at or after line {first_line}); export it as UTF-8 CSV",
        line=first_line,
    )


def line_too_long(line: int) -> InputError:
    return InputError(
        "malformed_csv", f"line {line} is longer than {MAX_LINE_BYTES:,} bytes", line=line
    )


def too_large(limit: int) -> InputError:
    return InputError(
        "too_large",
        f"the file uncompresses to more than {limit:,} bytes ({MAX_INPUT_BYTES_ENV})",
    )


def _text(line: bytes, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(number) from None


class _Joined:
    """``head`` (already read) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(size)
        if size < 0:
            data, self.head = self.head + self.stream.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        return data + (self.stream.read(size - len(data)) if len(data) < size else b"")


class _Gunzipped:
    """Decompresses on the fly; damage in the gzip data is the user's to fix."""

    def __init__(self, stream: Readable) -> None:
        # GzipFile only ever calls read on it.
        self.file = gzip.GzipFile(fileobj=cast(IO[bytes], stream), mode="rb")

    def read(self, size: int = -1) -> bytes:
        try:
            return self.file.read(size)
        except EOFError:
            raise InputError("bad_gzip", "the gzip data is truncated") from None
        except (OSError, zlib.error) as error:
            raise InputError(
                "bad_gzip", f"the file looks gzip-compressed but is damaged: {error}"
            ) from None


class _Limited:
    """Refuses to deliver more than ``limit`` bytes: a small .gz can unpack to a huge file."""

    def __init__(self, stream: Readable, limit: int) -> None:
        self.stream, self.limit, self.delivered = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.delivered += len(data)
        if self.delivered > self.limit:
            raise too_large(self.limit)
        return data
