"""The one error type for anything a user can fix: bad CSV, bad settings."""


class InputError(Exception):
    """A problem with the user's input, with a stable machine-readable ``code``.

    Codes are part of the public interface (failure records, CLI messages, docs/reference.md):
    rename one only as a breaking change.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
