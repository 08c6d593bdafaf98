"""Arbitrary CSV-ish bytes into the loader: only documented error codes ever come out."""

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linreg.data import load_bytes
from linreg.errors import InputError
from linreg.spec import BUILT_IN, IRIS

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
LIBRARY = Path(__file__).resolve().parents[1] / "lambda_src" / "linreg"


def documented_codes() -> set[str]:
    """The codes in the reference's error table (docs/reference.md): what users are promised."""
    section = REFERENCE.read_text().split("### Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


CODES = documented_codes()

cell = st.one_of(
    st.sampled_from(
        [
            "5.1",
            "3",
            "-0.2",
            "1e309",
            "nan",
            "",
            " ",
            "setosa",
            "Iris-virginica",
            "virginica",
            '"1,2"',
            '"',
            "versicolor",
            "x",
            "1e200",
            "-1e120",
            "  ",
        ]
    ),
    st.text(max_size=6),
)
# Rows, and lines that cost nothing to send: blank, commas only, spaces only.
row = st.one_of(
    st.lists(cell, min_size=0, max_size=7).map(",".join),
    st.sampled_from(["", ",,,,", ",,", "   "]),
)
header = st.lists(st.sampled_from([*IRIS.required, "extra", "", "iris"]), max_size=7).map(",".join)
csv_text = st.builds(
    lambda head, rows, newline: newline.join([head, *rows]),
    header,
    st.lists(row, max_size=15),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
csv_bytes = st.one_of(
    csv_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    csv_text.map(lambda text: b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")),
)


def test_the_documented_codes_were_found():
    assert {"empty_file", "malformed_csv", "non_numeric", "bad_gzip"} <= CODES


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_bytes, st.sampled_from([0.3, 1e-7, 0.9999999]))
def test_loader_raises_only_documented_codes(data, test_size):
    try:
        load_bytes(data, max_bytes=10_000, block_bytes=64, exact_max_rows=8, test_size=test_size)
    except InputError as error:
        assert error.code in CODES, error.code


def codes_in_the_source() -> set[str]:
    """Every error code the library can raise: each ``InputError("code", ...)``, the spec
    codes for unknown levels, and the hyperparameter checks' code."""
    source = "\n".join(path.read_text() for path in LIBRARY.rglob("*.py"))
    codes = set(re.findall(r'InputError\(\s*"([a-z_]+)"', source))
    return (
        codes
        | {spec.unknown_level_code for spec in BUILT_IN.values()}
        | {
            "invalid_hyperparameters",
            "unknown_level",
        }
    )


def test_the_reference_documents_exactly_the_codes_the_library_raises():
    assert codes_in_the_source() == CODES
