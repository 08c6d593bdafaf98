"""Hyperparameters: one frozen value, created and validated here, recorded in every report."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

from linreg.contract import (
    DEFAULT_MAX_ITERATIONS,
    MAX_INPUT_BYTES_ENV,
    MAX_ITERATIONS_ENV,
    SETTING_ENV_PREFIX,
    UPLOAD_SETTINGS_ENV,
)
from linreg.errors import InputError, excerpt

LOSSES = ("mean", "sum")
# "statistics" trains on sufficient statistics (any size, the default); "tutorial" on the
# rows themselves, as the tutorial does (inputs up to the exact-split size only).
ENGINES = ("statistics", "tutorial")

# Named bundles of settings; anything set explicitly overrides its preset's value.
PRESETS: dict[str, dict] = {
    # The tutorial, exactly: raw features, lr 0.01, 100 iterations.
    "tutorial": {},
    # Standardized features, an automatic step (1.5/L for the loss's largest curvature L;
    # 2/L is the stability limit), stop once the loss changes by under 1e-6 relative
    # (how close it gets on iris: docs/reference.md, Presets).
    "converged": {
        "standardize": True,
        "learning_rate": None,
        "iterations": 5000,
        "tolerance": 1e-6,
    },
}

# Every setting that may come as text (environment, upload metadata, CLI), with the
# deployment's environment variable and the upload's metadata key (docs/reference.md).
SETTINGS = (
    "dataset",
    "preset",
    "learning_rate",
    "iterations",
    "seed",
    "loss",
    "engine",
    "tolerance",
    "test_size",
)
ENV_NAMES = {name: f"{SETTING_ENV_PREFIX}{name.upper()}" for name in SETTINGS}
METADATA_NAMES = {name: name.replace("_", "-") for name in SETTINGS}

MAX_ITERATIONS = 1_000_000
MAX_SEED = 2**31 - 1
# Uploads larger than this (compressed or uncompressed) are refused before download. The
# file is streamed, so memory does not grow with it; the limit bounds the run's duration
# (docs/performance.md).
DEFAULT_MAX_INPUT_BYTES = 2**30


@dataclass(frozen=True, kw_only=True)
class Hyperparameters:
    """Training settings; the defaults are the tutorial's (preset "tutorial")."""

    dataset: str = "iris"  # a built-in dataset spec (linreg.spec), or a custom spec's name
    preset: str = "tutorial"
    learning_rate: float | None = 0.01  # None: automatic, from the data's curvature
    iterations: int = 100  # with a tolerance, the most it may take
    tolerance: float | None = None  # stop when the loss changes by less, relative
    standardize: bool = False  # train on features scaled by training mean and deviation
    seed: int = 0
    loss: str = "mean"
    engine: str = "statistics"
    test_size: float = 0.3
    split_seed: int = 1

    def __post_init__(self) -> None:
        _check(
            self.preset in PRESETS,
            f"preset must be one of {', '.join(PRESETS)}, got {excerpt(self.preset)}",
        )
        _check(
            self.learning_rate is None
            or (
                _is_number(self.learning_rate)
                and math.isfinite(self.learning_rate)
                and self.learning_rate > 0
            ),
            f"learning rate must be a positive number, got {self.learning_rate!r}",
        )
        _check(
            _is_int(self.iterations) and 1 <= self.iterations <= MAX_ITERATIONS,
            f"iterations must be a whole number from 1 to {MAX_ITERATIONS}, "
            f"got {self.iterations!r}",
        )
        _check(
            self.tolerance is None or (_is_number(self.tolerance) and 0 < self.tolerance < 1),
            f"tolerance must be a fraction between 0 and 1, got {self.tolerance!r}",
        )
        _check(
            isinstance(self.standardize, bool),
            f"standardize must be true or false, got {self.standardize!r}",
        )
        _check(
            _is_int(self.seed) and 0 <= self.seed <= MAX_SEED,
            f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}",
        )
        _check(
            self.loss in LOSSES,
            f"loss must be one of {', '.join(LOSSES)}, got {excerpt(self.loss)}",
        )
        _check(
            self.engine in ENGINES,
            f"engine must be one of {', '.join(ENGINES)}, got {excerpt(self.engine)}",
        )
        _check(
            _is_number(self.test_size) and 0 < self.test_size < 1,
            f"test size must be a fraction between 0 and 1, got {self.test_size!r}",
        )
        _check(
            _is_int(self.split_seed) and self.split_seed >= 0,
            f"split seed must be a non-negative whole number, got {self.split_seed!r}",
        )

    @classmethod
    def for_preset(cls, preset: str = "tutorial", **overrides) -> Hyperparameters:
        """A preset's settings, with ``overrides`` (explicit settings) taking precedence."""
        _check(
            preset in PRESETS,
            f"preset must be one of {', '.join(PRESETS)}, got {excerpt(preset)}",
        )
        return cls(preset=preset, **{**PRESETS[preset], **overrides})

    @classmethod
    def from_strings(cls, values: Mapping[str, str | None]) -> Hyperparameters:
        """Parse text settings (environment, metadata, CLI); ``None`` or blank leaves the
        preset's value."""
        parsers: dict[str, Callable[[str], object]] = {
            "dataset": str.strip,
            "preset": str.strip,
            "learning_rate": _number_or_auto,
            "iterations": int,
            "seed": int,
            "loss": str.strip,
            "engine": str.strip,
            "tolerance": float,
            "test_size": float,
        }
        parsed: dict[str, Any] = {}
        for field, text in values.items():
            if text is None or not text.strip():
                continue
            try:
                parsed[field] = parsers[field](text)
            except ValueError:
                raise InputError(
                    "invalid_hyperparameters",
                    f"{field.replace('_', ' ')}: {excerpt(text)} is not valid",
                ) from None
        return cls.for_preset(**parsed)

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def env_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The deployment's ``LINREG_*`` overrides, as text; ``from_strings`` validates them."""
    return {field: env[name] for field, name in ENV_NAMES.items() if env.get(name, "").strip()}


def metadata_settings(metadata: Mapping[str, str]) -> dict[str, str]:
    """Settings given with the upload (``aws s3 cp --metadata learning-rate=0.05``).
    S3 lowercases metadata keys; other tools' keys are left alone."""
    given = {key.lower(): value for key, value in metadata.items()}
    return {
        field: given[key] for field, key in METADATA_NAMES.items() if given.get(key, "").strip()
    }


def _number_or_auto(text: str) -> float | None:
    return None if text.strip().lower() == "auto" else float(text)


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What the operator allows a run: the input size, the most iterations, and which
    settings upload metadata may set (``None``: all of them)."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    upload_settings: frozenset[str] | None = None  # metadata keys

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """The deployment's limits. A bad value is the operator's bug, not the user's: it
        raises ``ValueError``."""
        return cls(
            max_input_bytes=int_setting(env, MAX_INPUT_BYTES_ENV, DEFAULT_MAX_INPUT_BYTES),
            max_iterations=min(
                int_setting(env, MAX_ITERATIONS_ENV, DEFAULT_MAX_ITERATIONS),
                MAX_ITERATIONS,
            ),
            upload_settings=_upload_settings(env.get(UPLOAD_SETTINGS_ENV, "")),
        )

    def check_upload_settings(self, given: Mapping[str, str]) -> None:
        """Refuse metadata settings this deployment does not let uploads choose."""
        if self.upload_settings is None:
            return
        refused = sorted(METADATA_NAMES[name] for name in given)
        refused = [key for key in refused if key not in self.upload_settings]
        if refused:
            allowed = ", ".join(sorted(self.upload_settings)) or "none"
            _check(
                False,
                f"upload metadata may not set {', '.join(refused)} in this deployment "
                f"({UPLOAD_SETTINGS_ENV} allows: {allowed})",
            )

    def check(self, hyperparameters: Hyperparameters) -> None:
        """Refuse settings beyond the deployment's limits."""
        _check(
            hyperparameters.iterations <= self.max_iterations,
            f"iterations {hyperparameters.iterations:,} is above this deployment's limit of "
            f"{self.max_iterations:,} ({MAX_ITERATIONS_ENV})",
        )


def int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number deployment setting; blank means ``default``, anything not a positive
    whole number is the operator's bug (``ValueError``)."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return int(text)


def _upload_settings(text: str) -> frozenset[str] | None:
    """``""`` or ``all``: every setting; ``none``: no setting; else metadata keys."""
    keys = {key.strip().lower() for key in text.split(",") if key.strip()}
    if not keys or keys == {"all"}:
        return None
    if keys == {"none"}:
        return frozenset()
    unknown = sorted(keys - set(METADATA_NAMES.values()))
    if unknown:
        raise ValueError(f"{UPLOAD_SETTINGS_ENV} names unknown settings: {', '.join(unknown)}")
    return frozenset(keys)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise InputError("invalid_hyperparameters", message)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
