"""model.sql: a run's model as one SQL ``SELECT``, to score rows where they already are
(SQLite, DuckDB, Athena) and to outlive the framework that trained it.

The prediction is one arithmetic expression over the CSV's columns, from params.json
alone: its weights apply to raw features (a standardized model's scaling is folded in),
and each species indicator is a ``CASE WHEN``. Only portable SQL is used: double-quoted
identifiers, single-quoted strings, ``LOWER``, ``TRIM``, ``CASE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from linreg.errors import visible
from linreg.spec import Spec, spec_of_model

# The table the query reads: the CSV's rows under their header's column names.
TABLE = "linreg_input"


def render(params: Mapping[str, Any]) -> bytes:
    """The query for ``params`` (a run's params.json): every column of ``linreg_input``, and
    ``predicted_<target>``."""
    spec = spec_of_model(params)
    weights = params["weights"]
    terms = [_number(params["bias"])]
    terms += [f"{_number(weights[name])} * {_identifier(name)}" for name in spec.numeric]
    for column, levels in spec.categorical:
        terms += [
            f"{_number(weights[f'i_{level}'])} * {_indicator(column, level, spec.level_prefix)}"
            for level in levels[:-1]
        ]
    predicted = _identifier(f"predicted_{spec.target}")
    return "\n".join(
        [
            *_header(spec),
            "SELECT",
            "  *,",
            "  " + "\n  + ".join(terms),
            f"  AS {predicted}",
            f"FROM {TABLE};",
            "",
        ]
    ).encode()


def _header(spec: Spec) -> list[str]:
    target = _comment(spec.target)
    lines = [
        f"-- linreg model of {target} (dataset {_comment(spec.name)}): the rows of {TABLE}",
        f"-- (the CSV's columns; rename it to your table) with predicted_{target}.",
        "-- Portable SQL (SQLite, DuckDB, Athena): quoted names, CASE, LOWER, TRIM only.",
    ]
    for column, levels in spec.categorical:
        lines.append(
            f"-- A value of {_comment(column)} other than {', '.join(map(_comment, levels))} "
            f"counts as {_comment(levels[-1])} here; linreg predict refuses it."
        )
    return lines


def _indicator(column: str, level: str, prefix: str) -> str:
    """1 for a cell naming ``level``, as training reads levels: any letter case, spaces
    around it, and the spec's optional prefix ("Iris-setosa")."""
    names = [level.lower()] + ([(prefix + level).lower()] if prefix else [])
    listed = ", ".join(_string(name) for name in names)
    return f"CASE WHEN LOWER(TRIM({_identifier(column)})) IN ({listed}) THEN 1 ELSE 0 END"


def _number(value: float) -> str:
    # repr is the shortest text that reads back as the same double; a negative one is
    # parenthesized so that "+ -0.5" never reads as anything else.
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(text: str) -> str:
    # A line end (a hidden character, escaped) in a name would end the comment and start SQL.
    return visible(text)
