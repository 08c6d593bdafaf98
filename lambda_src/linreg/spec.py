"""What a CSV holds: the target, numeric features, and categorical columns encoded as
drop-one 0/1 indicators (the tutorial's ``i_setosa``, ``i_versicolor``; the last level is
the baseline and gets no column). Iris is the default; diabetes is built in too; any other
can be described in JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linreg.errors import InputError, excerpt, excerpt_name

# Each level but the baseline is a feature; the loader also keeps level codes as int16.
MAX_LEVELS = 1000


@dataclass(frozen=True, kw_only=True)
class Spec:
    name: str
    target: str
    numeric: tuple[str, ...]
    # (column, its levels); the last level is the baseline.
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Accepted in front of a level and ignored, as the UCI iris file writes "Iris-setosa".
    level_prefix: str = ""
    # The error code for a cell that is not one of its column's levels.
    unknown_level_code: str = "unknown_level"
    # The target's unit, for the report's axes ("" when unknown or unitless).
    unit: str = ""

    def __post_init__(self) -> None:
        names = [self.target, *self.numeric, *(column for column, _ in self.categorical)]
        dataset = f"dataset {excerpt(self.name)}"
        if len(set(names)) != len(names) or not self.numeric and not self.categorical:
            raise InputError("bad_dataset", f"{dataset}: columns must be distinct")
        for column, levels in self.categorical:
            if len(levels) < 2 or len(set(levels)) != len(levels):
                raise InputError(
                    "bad_dataset", f"{dataset}: {excerpt_name(column)} needs 2+ distinct levels"
                )
            if len(levels) > MAX_LEVELS:
                raise InputError(
                    "bad_dataset",
                    f"{dataset}: {excerpt_name(column)} has {len(levels)} levels; "
                    f"at most {MAX_LEVELS} allowed",
                )

    @property
    def features(self) -> tuple[str, ...]:
        """Numeric features, then one indicator per non-baseline level."""
        indicators = tuple(f"i_{level}" for _, levels in self.categorical for level in levels[:-1])
        return (*self.numeric, *indicators)

    @property
    def required(self) -> tuple[str, ...]:
        return (self.target, *self.numeric, *(column for column, _ in self.categorical))

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "target": self.target,
            "numeric": list(self.numeric),
            "categorical": {column: list(levels) for column, levels in self.categorical},
            "level_prefix": self.level_prefix,
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, value: dict) -> Spec:
        try:
            spec = cls(
                name=str(value["name"]),
                target=str(value["target"]),
                numeric=tuple(map(str, value.get("numeric", []))),
                categorical=tuple(
                    (str(column), tuple(map(str, levels)))
                    for column, levels in value.get("categorical", {}).items()
                ),
                level_prefix=str(value.get("level_prefix", "")),
                unit=str(value.get("unit", "")),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise InputError("bad_dataset", f"not a dataset description: {error}") from None
        return _built_in_like(spec)


IRIS = Spec(
    name="iris",
    target="sepal_length",
    numeric=("sepal_width", "petal_length", "petal_width"),
    categorical=(("iris", ("setosa", "versicolor", "virginica")),),
    level_prefix="iris-",
    unknown_level_code="unknown_species",
    unit="cm",
)
# scikit-learn's diabetes data, unscaled: disease progression after a year from ten
# baseline measurements; sex is coded 1 or 2.
DIABETES = Spec(
    name="diabetes",
    target="target",
    numeric=("age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
    categorical=(("sex", ("1", "2")),),
)
BUILT_IN = {spec.name: spec for spec in (IRIS, DIABETES)}


def _built_in_like(spec: Spec) -> Spec:
    """The built-in dataset ``spec`` describes, if any, else ``spec``: a description (as
    params.json keeps it) has no error code, and a model trained on iris must report an
    unknown species as training did, ``unknown_species``."""
    for built in BUILT_IN.values():
        if dataclasses.replace(spec, unknown_level_code=built.unknown_level_code) == built:
            return built
    return spec


def spec_of_model(params: Mapping[str, Any]) -> Spec:
    """The dataset a run's params.json was trained on: iris for one written before runs
    recorded theirs."""
    return Spec.from_dict(params["dataset"]) if "dataset" in params else IRIS


def spec_named(name: str) -> Spec:
    """A built-in dataset."""
    if name not in BUILT_IN:
        raise InputError(
            "invalid_hyperparameters",
            f"dataset must be one of {', '.join(BUILT_IN)}, got {excerpt(name)}",
        )
    return BUILT_IN[name]


def spec_from_file(path: Path) -> Spec:
    """A dataset described in a JSON file (the CLI's ``--dataset spec.json``)."""
    # A file that cannot be read is the CLI's unreadable_file, as for the CSV; only what it
    # holds can be a bad_dataset.
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError("unreadable_file", f"cannot read {path}: {error.strerror}") from None
    try:
        description = json.loads(data)
    except ValueError as error:  # not JSON, or not in a Unicode encoding
        raise InputError(
            "bad_dataset", f"cannot read a dataset description from {path}: {error}"
        ) from None
    return Spec.from_dict(description)
