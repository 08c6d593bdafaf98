"""Running the function with no AWS account: an embedded S3, the state machine in moto,
and ``linreg invoke``'s wiring of the two.

Needs moto: the development install has it, ``pip install 'linreg[local]'`` adds it, and
the function image leaves this room out.
"""

from __future__ import annotations

from linreg.errors import InputError


def require_moto() -> None:
    """Refuse, in one line, to run without moto, rather than fail on an import deep inside."""
    try:
        import moto  # noqa: F401
    except ImportError:
        raise InputError(
            "needs_local_extra",
            "an embedded S3 (a bucket's local copy, or invoke without --endpoint-url or "
            "--aws) needs moto: pip install 'linreg[local]'",
        ) from None
