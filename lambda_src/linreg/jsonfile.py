"""The one way this project writes JSON files."""

import json


def to_json(value: object, *, indent: int | None = 2) -> bytes:
    """``value`` as a JSON file: indented for people, or compact (``indent=None``) for files
    only programs read."""
    # allow_nan=False: NaN is not JSON, and most readers reject a file holding it.
    return (json.dumps(value, indent=indent, allow_nan=False) + "\n").encode()
