"""Arbitrary CSV-ish bytes into the loader: only documented error codes ever come out."""

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ROOT
from linreg.errors import InputError, is_hidden
from linreg.service.layout import MAX_KEY_BYTES, Layout
from linreg.spec import BUILT_IN, IRIS
from linreg.training.data import load_bytes

REFERENCE = ROOT / "docs" / "reference.md"
LIBRARY = ROOT / "lambda_src" / "linreg"


def documented_codes() -> set[str]:
    """The codes in the reference's error table (docs/reference.md): what users are promised."""
    section = REFERENCE.read_text().split("### Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


CODES = documented_codes()

# The characters hostile uploads use: NUL, C0 and C1 controls, bidi overrides and isolates,
# zero-width ones, the byte-order mark, a Hangul filler, and a decomposed accent (NFD).
HOSTILE = "\x00\x1b\x07\x7f\x85\x9b\u202e\u2066\u200b\u200d\ufeff\u3164\u0301"
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE), st.sampled_from("aé.5-/ ")), max_size=12
)
# A cell of one of the hostile classes, or long (what a message must not quote whole).
hostile_cell = st.one_of(
    hostile_text,
    st.builds(lambda text, n: text * n, st.sampled_from(["5", "x", "\x00"]), st.integers(41, 5000)),
    st.sampled_from(["5.1\x00xyz", "setosa\x00evil", "\x005.1", "se\u0301tosa", "5\u200b.1"]),
)

cell = st.one_of(
    hostile_cell,
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
    """Every error code the library can raise: each ``InputError("code", ...)`` (and
    ``RunStopped``, ``RunError``), the spec codes for unknown levels, and the hyperparameter
    checks' code."""
    source = "\n".join(path.read_text() for path in LIBRARY.rglob("*.py"))
    codes = set(re.findall(r'(?:InputError|RunStopped|RunError)\(\s*"([a-z_]+)"', source))
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


IRIS_ROWS = (ROOT / "data" / "iris.csv").read_text().splitlines()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_cell, st.integers(1, 60), st.integers(0, 4))
def test_a_hostile_cell_is_read_as_written_or_refused_briefly_at_its_line(value, row, column):
    lines = list(IRIS_ROWS)
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    try:
        dataset = load_bytes(data, exact_max_rows=1000)
    except InputError as error:
        assert error.code in CODES
        assert len(error.message) < 400, error.message
        assert not any(is_hidden(char) for char in error.message), error.message
        return
    # Accepted: the cell was read as what it says, a number or a level.
    X, y = dataset.rows.X[row - 1], dataset.rows.y[row - 1, 0]
    if column == 0:
        assert y == float(value)
    elif column < 4:
        assert X[column - 1] == float(value)
    else:
        levels = IRIS.categorical[0][1]
        indicators = [float(value.strip().lower() == level) for level in levels[:-1]]
        assert list(X[3:]) == indicators


names = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE + "/."), st.characters(codec="utf-8")),
    min_size=1,
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(names, st.sampled_from([".csv", ".csv.gz", ".manifest.json"]))
def test_a_usable_model_name_is_composed_visible_and_makes_valid_keys(stem, suffix):
    layout = Layout()
    key = f"incoming/{stem}{suffix}"
    name = layout.model_name(key)
    if name is None:
        return
    problem = layout.name_problem(name, key=key)
    if problem is not None:
        assert len(problem) < 400 and not any(is_hidden(char) for char in problem)
        return
    assert unicodedata.is_normalized("NFC", name)
    assert not any(is_hidden(char) for char in name)
    assert len(layout.page_key(name).encode()) <= MAX_KEY_BYTES
