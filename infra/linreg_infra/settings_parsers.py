"""The parsers of the `linreg:*` context values: (key, raw value) -> typed value.

Values given with -c arrive as strings and values from cdk.json as JSON, so every parser
accepts both; a value it cannot use raises SettingsError with a message that names the key.
settings.py maps each key to its parser (CONTEXT_KEYS) and checks the values together.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from linreg import config, cost
from linreg.promotion import Promotion

# The upload metadata keys an operator may allow (linreg:uploadSettings), and the two words
# that stand for all of them and for none.
METADATA_KEYS = tuple(sorted(config.METADATA_NAMES.values()))
ALL_UPLOAD_SETTINGS = "all"
NO_UPLOAD_SETTINGS = "none"

# The only retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# The function's instruction set (Lambda's names); the image is built for the same one.
ARCHITECTURES = ("x86_64", "arm64")
# Why arm64 is refused for now: an image built for it could not import mxnet.
ARM64_BLOCKED = (
    "arm64 cannot run linreg yet: mxnet 1.9.1's aarch64 wheel links Arm Performance "
    "Libraries (libarmpl_lp64_mp.so) that it does not ship and neither Debian nor PyPI "
    "provides (docs/deploy.md#architecture); use x86_64"
)
# The function's default architecture: see ARM64_BLOCKED.
DEFAULT_ARCHITECTURE = "x86_64"

STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
# Deliberately loose: the address only has to look like one; SNS sends a confirmation.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# An EventBridge bus of this account, by name: the default bus is "default". Partner buses
# (aws.partner/...) are not the function's to put events on, and a bus in another account
# is reached by a rule on one of this account's buses that forwards to it.
EVENT_BUS_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,256}")
DEFAULT_EVENT_BUS = "default"

# AWS's tag rules (Tagging AWS resources, "Tag naming limits and requirements"): a key of 1
# to 128 characters, a value of at most 256, both of Unicode letters, digits, spaces and
# _ . : / = + - @; no key beginning with "aws:" in any case; at most 50 tags per resource.
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_TAGS = 50
TAG_PUNCTUATION = frozenset("_.:/=+-@")
RESERVED_TAG_PREFIX = "aws:"


class SettingsError(ValueError):
    """A `linreg:*` context value that cannot be used; the message names the key."""


def _whole_number(key: str, raw: Any, low: int, high: int) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not re.fullmatch(r"[+-]?\d+", text) or not low <= int(text) <= high:
        raise SettingsError(f"{key} must be a whole number from {low} to {high}, got {raw!r}")
    return int(text)


def _is_unset(raw: Any) -> bool:
    return raw is None or str(raw).strip() == ""


def whole_number(low: int, high: int) -> Callable[[str, Any], int]:
    return lambda key, raw: _whole_number(key, raw, low, high)


def optional_whole_number(low: int, high: int) -> Callable[[str, Any], int | None]:
    return lambda key, raw: None if _is_unset(raw) else _whole_number(key, raw, low, high)


def positive_number(key: str, raw: Any) -> float | None:
    if _is_unset(raw):
        return None
    value = _number(raw)
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{key} must be a number greater than 0, got {raw!r}")
    return value


def fraction(key: str, raw: Any) -> float | None:
    if _is_unset(raw):
        return None
    value = _number(raw)
    if not 0 < value < 1:
        raise SettingsError(f"{key} must be a number between 0 and 1, got {raw!r}")
    return value


def _number(raw: Any) -> float:
    """The value as a float; NaN (which every range check rejects) if it is not one."""
    try:
        return math.nan if isinstance(raw, bool) else float(raw)
    except (TypeError, ValueError):
        return math.nan


def choice(options: tuple[str, ...]) -> Callable[[str, Any], str | None]:
    def parse(key: str, raw: Any) -> str | None:
        if _is_unset(raw):
            return None
        if str(raw).strip() not in options:
            raise SettingsError(f"{key} must be one of {', '.join(options)}, got {raw!r}")
        return str(raw).strip()

    return parse


def architecture(key: str, raw: Any) -> str:
    chosen = choice(ARCHITECTURES)(key, raw) or DEFAULT_ARCHITECTURE
    if chosen == "arm64":
        raise SettingsError(f"{key}: {ARM64_BLOCKED}")
    return chosen


def log_retention(key: str, raw: Any) -> int:
    days = _whole_number(key, raw, 1, LOG_RETENTION_DAYS[-1])
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise SettingsError(f"{key} must be one of {allowed} (CloudWatch's choices), got {raw!r}")
    return days


def prefix(key: str, raw: Any) -> str:
    text = str(raw)
    # A * or ? would widen the IAM resources built from the prefix into wildcards.
    if not text.endswith("/") or text.startswith("/") or text == "/" or re.search(r"[*?\s]", text):
        raise SettingsError(
            f"{key} must be a key prefix like 'incoming/': ending in '/', not starting with "
            f"'/', without spaces, '*' or '?', got {raw!r}"
        )
    return text


def boolean(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise SettingsError(f"{key} must be true or false, got {raw!r}")
    return text == "true"


def email(key: str, raw: Any) -> str | None:
    if _is_unset(raw):
        return None
    if not EMAIL.fullmatch(str(raw).strip()):
        raise SettingsError(f"{key} must be an email address like you@example.com, got {raw!r}")
    return str(raw).strip()


def upload_settings(key: str, raw: Any) -> str:
    """Which settings upload metadata may set, as the function's environment text: "" for
    all, "none", or the allowed metadata keys, sorted and comma-joined."""
    text = "" if raw is None else str(raw).strip().lower()
    if text in ("", ALL_UPLOAD_SETTINGS):
        return ""
    if text == NO_UPLOAD_SETTINGS:
        return NO_UPLOAD_SETTINGS
    names = [name.strip() for name in text.split(",")]
    if any(name not in METADATA_KEYS for name in names):
        raise SettingsError(
            f"{key} must be {ALL_UPLOAD_SETTINGS!r}, {NO_UPLOAD_SETTINGS!r} or a comma-separated "
            f"list of upload metadata keys from {', '.join(METADATA_KEYS)}, got {raw!r}"
        )
    return ",".join(sorted(set(names)))


def stack_name(key: str, raw: Any) -> str:
    if not STACK_NAME.fullmatch(str(raw)):
        raise SettingsError(
            f"{key} must start with a letter and hold only letters, digits and '-' "
            f"(at most 128), got {raw!r}"
        )
    return str(raw)


def event_bus_name(key: str, raw: Any) -> str:
    """An event bus of this account, by name; unset is the default bus."""
    if _is_unset(raw):
        return DEFAULT_EVENT_BUS
    text = str(raw).strip()
    if not EVENT_BUS_NAME.fullmatch(text) or text.lower().startswith("aws."):
        raise SettingsError(
            f"{key} must be the name of an event bus in this account ('default', or letters, "
            f"digits and . - _, at most 256, not an aws. partner bus), got {raw!r}"
        )
    return text


def promotion(key: str, raw: Any) -> str:
    """The promotion rule as the library parses it (linreg.promotion), in its own words."""
    try:
        return str(Promotion.parse(None if raw is None else str(raw)))
    except ValueError as error:
        raise SettingsError(f"{key}: {error}") from None


def price(key: str, raw: Any) -> float | None:
    """A price override in US dollars, 0 or more, as the library reads it (linreg.cost)."""
    if _is_unset(raw):
        return None
    if isinstance(raw, bool):
        raise SettingsError(f"{key} must be a price in US dollars, 0 or more, got {raw!r}")
    try:
        return cost.price({key: str(raw)}, key)
    except ValueError:
        raise SettingsError(
            f"{key} must be a price in US dollars, 0 or more, got {raw!r}"
        ) from None


def tags(key: str, raw: Any) -> dict[str, str]:
    """Tags for every resource: a JSON object (cdk.json, or its text with -c) or
    ``k=v,k=v`` (-c). Each key and value checked against AWS's tag rules."""
    if _is_unset(raw):
        return {}
    pairs = _tag_pairs(key, raw)
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in found:
            raise SettingsError(f"{key} names the tag {name!r} twice")
        problem = _tag_problem(name, value)
        if problem:
            raise SettingsError(f"{key}: {problem}")
        found[name] = value
    return found


def _tag_pairs(key: str, raw: Any) -> list[tuple[str, str]]:
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SettingsError(f"{key} is not a JSON object: {raw!r}") from None
    if isinstance(raw, Mapping):
        pairs = []
        for name, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise SettingsError(f"{key}: the tag {name!r} needs a text value, got {value!r}")
            pairs.append((str(name), str(value)))
        return pairs
    if not isinstance(raw, str):
        raise SettingsError(f"{key} must be a JSON object or k=v,k=v, got {raw!r}")
    pairs = []
    for item in raw.split(","):
        name, equals, value = item.partition("=")
        if not equals:
            raise SettingsError(f"{key} must be a JSON object or k=v,k=v, got {raw!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _tag_problem(name: str, value: str) -> str | None:
    """Why ``name`` and ``value`` break AWS's tag rules, or None."""
    if not 1 <= len(name) <= MAX_TAG_KEY:
        return f"a tag key has 1 to {MAX_TAG_KEY} characters, got {name!r}"
    if len(value) > MAX_TAG_VALUE:
        return f"the tag {name!r} has a value longer than {MAX_TAG_VALUE} characters"
    if name.lower().startswith(RESERVED_TAG_PREFIX):
        return f"the tag key {name!r} begins with {RESERVED_TAG_PREFIX!r}, which AWS reserves"
    for text in (name, value):
        if not all(_tag_character(char) for char in text):
            return (
                f"the tag {name!r}={value!r} holds a character AWS does not allow in tags "
                "(letters, digits, spaces and _ . : / = + - @)"
            )
    return None


def _tag_character(char: str) -> bool:
    # \p{L}, \p{Z}, \p{N} and the punctuation of AWS's pattern.
    return char in TAG_PUNCTUATION or unicodedata.category(char)[0] in "LZN"
