"""The one error type for anything a user can fix: bad CSV, bad settings."""

from __future__ import annotations


class InputError(Exception):
    """A problem with the user's input, with a stable machine-readable ``code``.

    Codes are part of the public interface (failure records, CLI messages, docs/reference.md):
    rename one only as a breaking change. ``details`` says more for programs (what a run
    had done when it stopped, say); it goes into the failure record when present.
    """

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        return {**error, "details": self.details} if self.details else error
