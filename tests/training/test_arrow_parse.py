"""The pyarrow path of the parse: it takes a block only where it reads it as pandas' parse
does, and a block it does not take still gets the careful parse's exact error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import iris_like, with_bad_cell
from linreg.errors import InputError
from linreg.spec import IRIS
from linreg.training.data import load_bytes, parse
from linreg.training.data.parse import Columns, _arrow_parse, _pandas_parse

HEADER = ["sepal_length", "sepal_width", "petal_length", "petal_width", "iris"]
COLUMNS = Columns.of(HEADER, IRIS)

# Cells made of what numbers, their neighbours and hostile exports are made of.
CELL = st.text(alphabet="0123456789.eE+-naifNIFty ,\"'\r\x00é", max_size=8)
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    CELL,
)
LEVEL = st.one_of(
    st.sampled_from(["setosa", "versicolor", "virginica", "Iris-setosa", " Virginica ", ""]),
    st.text(alphabet='setosaIri- "\té', max_size=12),
)
ROW = st.tuples(NUMBER, NUMBER, NUMBER, NUMBER, LEVEL).map(",".join)
END = st.sampled_from(["\n", "\r\n", "\n\n", "\n,,,,\n", "\n \n"])


def pandas_outcome(block: bytes):
    try:
        return _pandas_parse(block, 2, COLUMNS)
    except InputError as error:
        return error.code


def assert_same(fast, slow) -> None:
    assert not isinstance(slow, str), f"pyarrow took a block pandas refuses ({slow})"
    for ours, theirs in zip(fast, slow, strict=True):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.flags.f_contiguous == theirs.flags.f_contiguous
        assert np.array_equal(ours, theirs)
        assert np.array_equal(np.signbit(ours), np.signbit(theirs))  # -0.0 too


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(ROW, END), min_size=1, max_size=6))
def test_what_pyarrow_takes_pandas_reads_the_same(rows):
    block = "".join(row + end for row, end in rows).encode()
    fast = _arrow_parse(block, COLUMNS)
    if fast is not None:
        assert_same(fast, pandas_outcome(block))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_pyarrow_takes_plain_rows_and_reads_them_as_pandas_does(rows, seed):
    block = iris_like(rows, seed).split(b"\n", 1)[1]
    fast = _arrow_parse(block, COLUMNS)
    assert fast is not None
    assert_same(fast, pandas_outcome(block))


@pytest.mark.parametrize(
    "block",
    [
        b"\xef\xbb\xbf5.1,3.5,1.4,0.2,setosa\n",  # a byte-order mark mid-file is a cell's own
        b'5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,"setosa\n',  # a quote left open
        b'5.1,3.5,1.4,0.2,"setosa"\n',
        b"5.1,3.5,1.4,0.2,set\x00osa\n",
        b"5.1,3.5,1.4,0.2,s\xc3\xa9tosa\n",
        b"5.1,3.5,1.4,0.2,setosa\n,,,,\n",
        b"nan,3.5,1.4,0.2,setosa\n",
        b"1e101,3.5,1.4,0.2,setosa\n",
        b"5.1,3.5,1.4,0.2,setosa,\n",
        b"5.1,3.5,1.4,0.2\n",
        b"5.1,3.5,1.4,0.2,rosa\n",
        b"\n\n",
    ],
)
def test_pyarrow_leaves_doubtful_blocks_to_pandas(block):
    assert _arrow_parse(block, COLUMNS) is None


@pytest.mark.parametrize("line", [2, 50_000, 99_999, 100_001])
def test_a_bad_cell_in_a_later_block_is_reported_at_its_line(line):
    data = with_bad_cell(iris_like(100_000, seed=3), line)
    with pytest.raises(InputError) as raised:
        load_bytes(data, block_bytes=1 << 16)
    assert raised.value.code == "non_numeric"
    assert raised.value.line == line
    assert f"column petal_length, line {line}: 'x'" in str(raised.value)


def test_the_pyarrow_path_changes_no_statistic(monkeypatch):
    data = iris_like(20_000, seed=5)
    for exact_max_rows in (1_000_000, 0):  # the exact split, and the hashed one
        fast = load_bytes(data, block_bytes=1 << 15, exact_max_rows=exact_max_rows)
        with monkeypatch.context() as patch:
            patch.setattr(parse, "_arrow_parse", lambda block, columns: None)
            slow = load_bytes(data, block_bytes=1 << 15, exact_max_rows=exact_max_rows)
        for ours, theirs in ((fast.train, slow.train), (fast.test, slow.test)):
            assert ours.n == theirs.n
            for name in ("gram", "moment", "yy"):
                assert np.array_equal(getattr(ours, name), getattr(theirs, name))
        assert np.array_equal(fast.test_sample.X, slow.test_sample.X)
        assert fast.split_kind == slow.split_kind
