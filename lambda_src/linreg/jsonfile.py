"""The one way this project writes JSON files."""

import json


def to_json(value: dict) -> bytes:
    # allow_nan=False: NaN is not JSON, and most readers reject a file holding it.
    return (json.dumps(value, indent=2, allow_nan=False) + "\n").encode()
