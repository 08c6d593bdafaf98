"""The errors a run ends with, each with a stable code: ``InputError`` for anything a user
can fix (bad CSV, bad settings), ``RunStopped`` for a run the function ended itself (it
diverged, or would outlast its time limit), both a ``RunError``; how a message quotes the
input; and which characters text from outside may not show as they are."""

from __future__ import annotations

import re
import unicodedata

# Enough of a value to recognize it. A whole cell can be megabytes, and a message travels in
# Step Functions' state (256 KiB at most), failure records and responses.
EXCERPT_CHARACTERS = 40
# Characters that draw nothing or act on the text around them: controls (C0, DEL, C1, so
# also terminal escapes), format characters (zero-width ones, bidi overrides and isolates,
# the byte-order mark, the soft hyphen), line and paragraph separators, lone surrogates.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Letters by category that draw nothing: the Hangul fillers, the combining grapheme joiner
# and two Khmer vowels Unicode calls default-ignorable.
HIDDEN_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")


class RunError(Exception):
    """Why a run ended without a model, with a stable machine-readable ``code``: what its
    failure record states. Raised as is for a run that failed for no reason of the user's
    (a distributed run's execution that could not finish).

    Codes are part of the public interface (failure records, CLI messages, docs/reference.md):
    rename one only as a breaking change. ``details`` says more for programs (what a run
    had done when it stopped, say); it goes into the failure record when present.

    A problem at a file line has it as ``line``, kept in ``details`` so that it survives the
    failure record; ``message`` names it as "line N" before any text taken from the input,
    which is where ``shifted`` finds it.
    """

    def __init__(
        self, code: str, message: str, details: dict | None = None, *, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})
        if line is not None:
            self.details["line"] = line

    @property
    def line(self) -> int | None:
        return self.details.get("line")

    def shifted(self, lines: int) -> RunError:
        """The same problem ``lines`` lines further down the file: its line in the message
        and the details moved, nothing else. One at no line is returned as it is."""
        if self.line is None:
            return self
        line = self.line + lines
        message = re.sub(rf"\bline {self.line}\b", f"line {line}", self.message, count=1)
        return type(self)(self.code, message, self.details, line=line)

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        return {**error, "details": self.details} if self.details else error


class InputError(RunError):
    """A problem with the user's input or settings: theirs to fix, and the message says how."""


class RunStopped(RunError):
    """A run the function ended itself: training diverged (``diverged``), or the run would
    outlast the function's time limit (``timeout``)."""


def excerpt(text: str) -> str:
    """``text`` quoted as ``repr`` quotes it, hidden characters escaped; past
    ``EXCERPT_CHARACTERS`` characters, only its start, and its length."""
    if len(text) <= EXCERPT_CHARACTERS:
        return visible(repr(text))
    return f"{visible(repr(text[:EXCERPT_CHARACTERS]))}… ({len(text):,} characters)"


def excerpt_name(name: str) -> str:
    """A name from the input (a column's, say) as a message shows it: as it is when short
    and printable, else as an ``excerpt``."""
    if len(name) <= EXCERPT_CHARACTERS and name.isprintable():
        return name
    return excerpt(name)


def is_hidden(char: str) -> bool:
    """Whether ``char`` draws nothing or changes how the text around it is shown."""
    return unicodedata.category(char) in HIDDEN_CATEGORIES or char in HIDDEN_LETTERS


def visible(text: str) -> str:
    """``text`` with each hidden character written as its escape (``\\x1b``, ``\\u202e``),
    so that what came from outside cannot move a terminal's cursor or reorder a line."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escaped(char) if is_hidden(char) else char for char in text)


def _escaped(char: str) -> str:
    # repr's escape where it has one (\\t, \\x1b, \\u202e); it shows the fillers as they are.
    quoted = repr(char)[1:-1]
    return quoted if quoted != char else f"\\u{ord(char):04x}"
