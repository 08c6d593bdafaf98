import gzip
import io
import re
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from corpus import CORPUS_DIR, FAILING
from helpers import IRIS_CSV, iris_like, with_bad_cell
from linreg.errors import InputError
from linreg.spec import IRIS
from linreg.training.data import load, load_bytes, loading
from linreg.training.data.split import exact_split, hashed_test_rows
from linreg.training.data.stream import (
    MAX_LINE_BYTES,
    line_blocks,
    line_terminator,
    owned_lines,
    split_header,
    telling_the_end,
)
from linreg.training.stats import Stats

FEATURES = IRIS.features


def all_rows(data) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of every row, in file order, from an exact split."""
    rows = data.rows
    order = np.argsort(np.concatenate([rows.train_index, rows.test_index]))
    X = np.concatenate([rows.X_train, rows.X_test])[order]
    y = np.concatenate([rows.y_train, rows.y_test])[order]
    return X, y


def test_shipped_iris_is_scikit_learns_copy():
    from sklearn.datasets import load_iris

    shipped = pd.read_csv(IRIS_CSV)
    reference = load_iris()
    np.testing.assert_allclose(shipped.iloc[:, :4].to_numpy(), reference.data)
    assert list(shipped["iris"]) == [reference.target_names[t] for t in reference.target]


def test_features_are_the_tutorials_with_indicator_columns(iris_bytes):
    X, y = all_rows(load_bytes(iris_bytes))
    frame = pd.read_csv(IRIS_CSV)
    np.testing.assert_array_equal(X[:, 0], frame["sepal_width"])
    np.testing.assert_array_equal(X[:, 3], frame["iris"] == "setosa")
    np.testing.assert_array_equal(X[:, 4], frame["iris"] == "versicolor")
    np.testing.assert_array_equal(y[:, 0], frame["sepal_length"])
    assert X.shape == (150, len(FEATURES))


def test_target_is_a_column_so_residuals_cannot_broadcast(iris_bytes):
    rows = load_bytes(iris_bytes).rows
    assert rows.y_train.shape == (105, 1)


def test_split_takes_the_rows_sklearn_takes_from_the_tutorials_frame(iris_bytes):
    data = load_bytes(iris_bytes)
    frame_train, frame_test = train_test_split(pd.read_csv(IRIS_CSV), test_size=0.3, random_state=1)
    assert data.split_kind == "exact"
    np.testing.assert_array_equal(data.rows.train_index, frame_train.index)
    np.testing.assert_array_equal(data.rows.test_index, frame_test.index)
    assert (data.train.n, data.test.n) == (105, 45)


@pytest.mark.parametrize("rows", [13, 14, 101, 1999])
@pytest.mark.parametrize("test_size", [0.3, 0.25, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_indices_are_train_test_splits(rows, test_size, seed):
    train_index, test_index = exact_split(rows, n_features=5, test_size=test_size, seed=seed)
    train, test = train_test_split(np.arange(rows), test_size=test_size, random_state=seed)
    np.testing.assert_array_equal(train_index, train)
    np.testing.assert_array_equal(test_index, test)


def test_statistics_are_those_of_the_split_rows(iris_bytes):
    data = load_bytes(iris_bytes)
    expected = Stats.of(data.rows.X_test, data.rows.y_test)
    np.testing.assert_allclose(data.test.gram, expected.gram)
    np.testing.assert_allclose(data.test.moment, expected.moment)
    assert data.test.yy == pytest.approx(expected.yy)


def test_column_order_does_not_matter(iris_bytes):
    reordered = all_rows(load_bytes((CORPUS_DIR / "reordered_columns.csv").read_bytes()))
    for got, want in zip(reordered, all_rows(load_bytes(iris_bytes)), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "name",
    [
        "extra_columns.csv",
        "uci_species_names.csv",
        "quoted_fields.csv",
        "trailing_whitespace.csv",
        "blank_lines.csv",
        "byte_order_mark.csv",
        "crlf_line_endings.csv",
    ],
)
def test_export_variants_give_the_same_rows(iris_bytes, name):
    got = all_rows(load_bytes((CORPUS_DIR / name).read_bytes()))
    for got_part, want_part in zip(got, all_rows(load_bytes(iris_bytes)), strict=True):
        np.testing.assert_array_equal(got_part, want_part)


def test_extra_columns_are_listed(iris_bytes):
    data = load_bytes((CORPUS_DIR / "extra_columns.csv").read_bytes())
    assert data.ignored_columns == ("id", "note")


def test_blank_lines_are_skipped_and_line_numbers_stay_true(iris_bytes):
    lines = iris_bytes.decode().splitlines()
    text = "\n".join([lines[0], lines[1], "", lines[2], "4.7,3.2,1.3,oops,setosa"]) + "\n\n"
    with pytest.raises(InputError, match="line 5"):
        load_bytes(text.encode())


PARSE_ERRORS = [case for case in FAILING if case[1] != "too_few_rows"]


@pytest.mark.parametrize(("name", "code", "words"), PARSE_ERRORS, ids=[c[0] for c in PARSE_ERRORS])
def test_bad_file_raises_its_code_and_says_where(name, code, words):
    with pytest.raises(InputError) as caught:
        load_bytes((CORPUS_DIR / name).read_bytes())
    assert caught.value.code == code
    assert words in caught.value.message


@pytest.mark.parametrize(("name", "code", "words"), PARSE_ERRORS, ids=[c[0] for c in PARSE_ERRORS])
def test_an_error_at_a_line_carries_it_in_its_details(name, code, words):
    with pytest.raises(InputError) as caught:
        load_bytes((CORPUS_DIR / name).read_bytes())
    named = re.search(r"line (\d+)", caught.value.message)
    assert caught.value.details.get("line") == (int(named.group(1)) if named else None)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (b"5.0,3.1," + b"x" * 1_000_000 + b",0.2,setosa\n", "petal_length"),
        (b"5.0,3.1,1.4,0.2," + b"x" * 1_000_000 + b"\n", "iris"),
    ],
)
def test_a_huge_bad_cell_is_quoted_as_a_short_excerpt(iris_bytes, row, column):
    lines = iris_bytes.splitlines(keepends=True)
    lines[2] = row

    with pytest.raises(InputError) as caught:
        load_bytes(b"".join(lines))

    message = caught.value.message
    assert len(message) < 200, message
    assert f"column {column}, line 3: " in message and "(1,000,000 characters)" in message


def test_a_huge_duplicate_column_name_is_quoted_as_a_short_excerpt(iris_bytes):
    header, rows = iris_bytes.split(b"\n", 1)
    name = b"n" * 100_000
    with pytest.raises(InputError) as caught:
        load_bytes(header + b"," + name + b"," + name + b"\n" + rows)

    assert caught.value.code == "duplicate_columns"
    assert len(caught.value.message) < 200 and "(100,000 characters)" in caught.value.message


def test_an_unclosed_quote_names_the_files_line_where_it_starts():
    lines = iris_like(300).splitlines(keepends=True)
    lines[200] = b'5.0,3.1,"1.2,0.2,setosa\n'  # line 201

    with pytest.raises(InputError) as caught:
        load_bytes(b"".join(lines), block_bytes=1000)

    assert caught.value.code == "malformed_csv"
    assert caught.value.message == "line 201: a quoted value opens here and is never closed"
    assert caught.value.line == 201


def test_an_unclosed_quote_after_blank_lines_names_the_line_an_editor_shows(iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[1:1] = [b"\n", b",,,,\n"]  # lines 2 and 3, cut out before parsing
    lines[21] = b'5.0,3.1,"1.2,0.2,setosa\n'  # line 22

    with pytest.raises(InputError) as caught:
        load_bytes(b"".join(lines))

    assert caught.value.code == "malformed_csv"
    assert caught.value.message == "line 22: a quoted value opens here and is never closed"
    assert caught.value.line == 22


def test_an_unclosed_quote_after_a_value_spanning_lines_names_its_own_line(iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[5] = b'5.0,3.1,1.2,0.2,"set\nosa"\n'  # lines 6 and 7: pandas counts one row
    lines[21] = b'5.0,3.1,"1.2,0.2,setosa\n'  # line 23

    with pytest.raises(InputError) as caught:
        load_bytes(b"".join(lines))

    assert caught.value.message == "line 23: a quoted value opens here and is never closed"


def test_a_row_with_an_extra_field_after_a_value_spanning_lines_names_its_own_line(iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[5] = b'5.0,3.1,1.2,0.2,"set\nosa"\n'  # lines 6 and 7: pandas counts one row
    lines[21] = b"5.0,3.1,1.2,0.2,setosa,0.9\n"  # line 23

    with pytest.raises(InputError) as caught:
        load_bytes(b"".join(lines))

    assert caught.value.code == "malformed_csv" and caught.value.line == 23
    assert "in line 23, saw 6" in caught.value.message


def test_too_few_rows_to_split_is_an_input_error():
    with pytest.raises(InputError) as caught:
        load_bytes((CORPUS_DIR / "too_few_rows.csv").read_bytes())
    assert caught.value.code == "too_few_rows"
    assert "8 data rows" in caught.value.message


def test_gzip_compressed_csv_is_read(iris_bytes):
    assert load_bytes(gzip.compress(iris_bytes)).total_rows == 150


def test_gzip_that_uncompresses_past_the_limit_is_refused(iris_bytes):
    with pytest.raises(InputError) as caught:
        load_bytes(gzip.compress(iris_bytes), max_bytes=1000)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize("damage", [lambda b: b[:200], lambda b: b[:10] + b"x" * 50])
def test_damaged_gzip_is_refused(iris_bytes, damage):
    with pytest.raises(InputError) as caught:
        load_bytes(damage(gzip.compress(iris_bytes)))
    assert caught.value.code == "bad_gzip"


def test_a_single_species_is_accepted_with_a_warning():
    data = load_bytes((CORPUS_DIR / "one_species.csv").read_bytes())
    assert data.total_rows == 50
    assert "only setosa present" in data.warnings[0]


def test_a_line_without_end_is_refused_before_it_fills_memory():
    with pytest.raises(InputError) as caught:
        load_bytes(b"sepal_length," + b"x" * (2 << 20))
    assert caught.value.code == "malformed_csv"


def with_long_row(csv: bytes, line: int, length: int, pad: bytes = b" ") -> bytes:
    """``csv`` with its ``line``-th line (the header is line 1) replaced by a setosa row of
    ``length`` bytes before its line end, its species padded with ``pad`` (spaces are
    stripped from a level, so the row stays valid; another byte makes it unknown)."""
    lines = csv.splitlines(keepends=True)
    row = b"5.0,3.1,1.4,0.2,setosa"
    lines[line - 1] = row + pad * (length - len(row)) + b"\n"
    return b"".join(lines)


def assert_too_long(caught: pytest.ExceptionInfo, line: int) -> None:
    assert caught.value.code == "malformed_csv"
    assert caught.value.message == f"line {line} is longer than {MAX_LINE_BYTES:,} bytes"
    assert caught.value.line == line


def test_a_line_of_exactly_the_bound_is_read(iris_bytes):
    data = load_bytes(with_long_row(iris_bytes, 51, MAX_LINE_BYTES))
    assert data.total_rows == 150


def test_a_line_one_byte_over_the_bound_is_refused_naming_its_line(iris_bytes):
    with pytest.raises(InputError) as caught:
        load_bytes(with_long_row(iris_bytes, 51, MAX_LINE_BYTES + 1))
    assert_too_long(caught, 51)


@pytest.mark.parametrize("length", [2 << 20, 3 << 20])
def test_a_line_of_megabytes_of_unknown_species_is_refused_as_too_long(iris_bytes, length):
    with pytest.raises(InputError) as caught:
        load_bytes(with_long_row(iris_bytes, 51, length, pad=b"s"))
    assert_too_long(caught, 51)


def test_a_line_over_the_bound_is_refused_in_gzip_input(iris_bytes):
    with pytest.raises(InputError) as caught:
        load_bytes(gzip.compress(with_long_row(iris_bytes, 51, MAX_LINE_BYTES + 1), 1))
    assert_too_long(caught, 51)


def test_a_line_over_the_bound_is_refused_in_a_block_after_the_first():
    data = with_long_row(iris_like(300), 251, MAX_LINE_BYTES + 1)
    with pytest.raises(InputError) as caught:
        load_bytes(data, block_bytes=4096)
    assert_too_long(caught, 251)


def test_a_header_over_the_bound_is_refused_as_line_1(iris_bytes):
    header, rows = iris_bytes.split(b"\n", 1)
    with pytest.raises(InputError) as caught:
        load_bytes(header + b"," + b"n" * MAX_LINE_BYTES + b"\n" + rows)
    assert_too_long(caught, 1)


def test_a_bad_cell_before_a_line_over_the_bound_is_reported_first(iris_bytes):
    data = with_long_row(with_bad_cell(iris_bytes, 40), 51, MAX_LINE_BYTES + 1)
    with pytest.raises(InputError) as caught:
        load_bytes(data)
    assert (caught.value.code, caught.value.line) == ("non_numeric", 40)


def test_a_crlf_line_of_the_bound_cut_between_its_cr_and_lf_is_read():
    line = b"x" * MAX_LINE_BYTES + b"\r\n"
    data = b"a\r\n" + line + b"1\r\n"
    block_bytes = len(data) - 4  # the first read ends between the long line's \r and \n

    blocks = list(line_blocks(io.BytesIO(data), block_bytes))

    assert b"".join(block for block, _ in blocks) == data


# --- streaming -------------------------------------------------------------------------
@pytest.mark.slow
def test_block_size_does_not_change_the_result():
    data = iris_like(3000)
    whole = load_bytes(data, exact_max_rows=500)
    for block_bytes in (64, 1000, 7777):
        blocks = load_bytes(data, exact_max_rows=500, block_bytes=block_bytes)
        np.testing.assert_allclose(blocks.train.gram, whole.train.gram)
        assert (blocks.train.n, blocks.test.n) == (whole.train.n, whole.test.n)


def test_large_inputs_use_the_seeded_per_row_split():
    data = iris_like(20_000)
    streamed = load_bytes(data, exact_max_rows=1000, block_bytes=4096)
    exact = load_bytes(data)
    X, y = all_rows(exact)
    test = hashed_test_rows(X, y, seed=1, test_size=0.3)
    expected = Stats.of(X[test], y[test])
    assert streamed.split_kind == "hashed" and streamed.rows is None
    assert streamed.test.n == expected.n
    np.testing.assert_allclose(streamed.test.gram, expected.gram)
    np.testing.assert_allclose(streamed.test.moment, expected.moment)


def test_hashed_split_holds_the_test_fraction_and_follows_the_seed():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100_000, 5)), rng.normal(size=(100_000, 1))
    test = hashed_test_rows(X, y, seed=1, test_size=0.3)
    assert test.mean() == pytest.approx(0.3, abs=0.01)
    assert not np.array_equal(test, hashed_test_rows(X, y, seed=2, test_size=0.3))


def test_the_hashed_split_does_not_depend_on_where_a_row_sits():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(1000, 5)), rng.normal(size=(1000, 1))
    order = rng.permutation(1000)

    test = hashed_test_rows(X, y, seed=1, test_size=0.3)

    shuffled = hashed_test_rows(np.asfortranarray(X[order]), y[order], seed=1, test_size=0.3)
    assert np.array_equal(shuffled, test[order])


def test_errors_in_later_blocks_name_the_files_line(iris_bytes):
    data = iris_like(5000) + b"5.0,3.1,x,0.2,setosa\n"
    with pytest.raises(InputError, match="column petal_length, line 5002"):
        load_bytes(data, block_bytes=1024, exact_max_rows=100)


@pytest.mark.parametrize("exact_max_rows", [10_000, 100])
def test_parsing_on_several_threads_gives_the_one_thread_result(exact_max_rows):
    data = iris_like(3000)
    options = {"block_bytes": 1000, "exact_max_rows": exact_max_rows}
    one = load_bytes(data, threads=1, **options)
    several = load_bytes(data, threads=3, **options)
    for part in ("train", "test"):
        np.testing.assert_array_equal(getattr(several, part).gram, getattr(one, part).gram)
        np.testing.assert_array_equal(getattr(several, part).moment, getattr(one, part).moment)
        assert getattr(several, part).n == getattr(one, part).n


def test_on_several_threads_the_first_bad_line_is_reported():
    lines = iris_like(5000).splitlines(keepends=True)
    lines[1500] = b"5.0,3.1,x,0.2,setosa\n"
    lines[3000] = b"5.0,3.1,0.2,setosa\n"
    with pytest.raises(InputError, match="column petal_length, line 1501"):
        load_bytes(b"".join(lines), block_bytes=1024, threads=4)


def test_on_several_threads_a_bad_line_comes_before_a_later_stream_error():
    lines = iris_like(5000).splitlines(keepends=True)
    lines[1500] = b"5.0,3.1,x,0.2,setosa\n"
    data = b"".join(lines)
    # The limit falls two blocks after the bad line: the reader passes it while the bad
    # line's block is still being parsed.
    limit = data.index(b",x,") + 1500
    with pytest.raises(InputError, match="line 1501") as caught:
        load_bytes(data, block_bytes=1024, threads=4, max_bytes=limit)
    assert caught.value.code == "non_numeric"


def test_threads_take_short_turns_at_the_gil_while_parsing_and_only_then(monkeypatch):
    parse = loading.parse_block
    seen = []

    def noting_the_interval(*args):
        seen.append(sys.getswitchinterval())
        return parse(*args)

    monkeypatch.setattr(loading, "parse_block", noting_the_interval)
    before = sys.getswitchinterval()
    load_bytes(iris_like(3000), block_bytes=1000, threads=2)
    assert set(seen) == {loading.SWITCH_INTERVAL_SECONDS} != {before}
    assert sys.getswitchinterval() == before


def peak_while_loading(data: bytes, block_bytes: int) -> int:
    tracemalloc.start()
    try:
        load(io.BytesIO(data), block_bytes=block_bytes, exact_max_rows=1000, threads=2)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_streaming_memory_is_bounded_by_the_block_not_the_file():
    block_bytes = 64 << 10
    # The file's own bytes sit in the BytesIO, outside what load() allocates.
    small, large = (peak_while_loading(iris_like(rows), block_bytes) for rows in (50_000, 200_000))
    assert large < 1.2 * small, f"peak {small:,} bytes for 50k rows, {large:,} for 200k"
    # A few blocks in flight per parsing thread, each with its parsed arrays.
    assert large < 32 * block_bytes


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("final_line_end", [True, False])
def test_the_row_count_is_told_once_the_last_block_is_read(ending, final_line_end):
    data = iris_like(300).replace(b"\n", ending)
    data = data if final_line_end else data.removesuffix(ending)
    _, blocks = split_header(line_blocks(io.BytesIO(data), 1000))
    told = []
    handed_on = list(telling_the_end(blocks, told.append))
    assert told == [300]
    assert b"".join(block for block, _ in handed_on) == data.split(ending, 1)[1]


def test_blank_lines_leave_the_exact_split_as_it_is_without_them():
    lines = iris_like(400).splitlines(keepends=True)
    with_blanks = b"".join(lines[:100] + [b"\n"] * 3 + lines[100:] + [b"\n"])
    plain = load_bytes(b"".join(lines), block_bytes=1000)
    blank = load_bytes(with_blanks, block_bytes=1000)
    np.testing.assert_array_equal(blank.test.gram, plain.test.gram)
    np.testing.assert_array_equal(blank.rows.test_index, plain.rows.test_index)


@pytest.mark.parametrize("line", [2, 41])
def test_a_row_with_an_extra_field_is_refused_even_first_in_its_block(iris_bytes, line):
    lines = iris_bytes.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].rstrip(b"\n") + b",0.9\n"
    block_bytes = len(b"".join(lines[: line - 1]))  # the long row starts the second block

    with pytest.raises(InputError) as error:
        load_bytes(b"".join(lines), block_bytes=block_bytes)

    assert error.value.code == "malformed_csv" and f"line {line}" in error.value.message


def test_blank_and_comma_only_lines_never_reach_the_careful_parse(iris_bytes, monkeypatch):
    from linreg.training.data import parse

    careful = []
    monkeypatch.setattr(parse, "_careful_parse", lambda *args: careful.append(args))
    header, rows = iris_bytes.split(b"\n", 1)
    padded = header + b"\n" + rows.replace(b"\n", b"\n\n,,,,\n\r\n")

    data = load_bytes(padded, block_bytes=1000)

    assert careful == [] and data.total_rows == 150


def test_after_cut_blank_lines_errors_still_name_the_files_line(iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[30] = lines[30].replace(b"setosa", b"rosa")
    padded = lines[0] + b"\n\n\n" + b"".join(lines[1:])  # the bad row is now line 34

    with pytest.raises(InputError, match="line 34"):
        load_bytes(padded)


@pytest.mark.slow
def test_a_file_of_blank_lines_takes_no_more_memory_than_one_of_rows():
    block_bytes = 64 << 10
    rows = iris_like(200_000)
    header, body = rows.split(b"\n", 1)
    # As many bytes, nearly all of them blank lines, and a few rows at the end.
    blank = header + b"\n" + b"\n" * len(body) + iris_like(20).split(b"\n", 1)[1]

    peak_while_loading(rows, block_bytes)  # the first load also pays for lazy imports
    rows_peak, blank_peak = (peak_while_loading(data, block_bytes) for data in (rows, blank))

    # Sent down the careful parse, the blank lines took about twenty times the rows' peak.
    assert blank_peak < 3 * rows_peak, f"{blank_peak:,} bytes for blank lines, {rows_peak:,}"


@pytest.mark.parametrize("test_size", [1e-7, 0.9999999])
def test_the_hashed_split_needs_rows_on_each_side_as_the_exact_one_does(test_size):
    with pytest.raises(InputError) as error:
        load_bytes(iris_like(3000), exact_max_rows=100, test_size=test_size)
    assert error.value.code == "too_few_rows"


line = st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b"").replace(b"\r", b""))


@given(
    lines=st.lists(line, max_size=30),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    final_line_end=st.booleans(),
    part_bytes=st.integers(min_value=1, max_value=120),
    block_bytes=st.integers(min_value=1, max_value=64),
)
def test_ranges_that_tile_a_file_hand_out_each_line_once(
    lines, ending, final_line_end, part_bytes, block_bytes
):
    data = ending.join(lines) + (ending if final_line_end and lines else b"")
    line_end = line_terminator(data)
    handed = []
    for start in range(0, len(data), part_bytes):
        stream = io.BytesIO(data[max(start - 1, 0) :])
        blocks = list(owned_lines(stream, start, start + part_bytes, block_bytes, line_end))
        handed += blocks
        # Whole lines only: only the block that ends the file may lack a line end.
        ends_the_file = len(b"".join(handed)) == len(data)
        assert all(
            block.endswith(line_end) for block in blocks[: None if not ends_the_file else -1]
        )

    assert b"".join(handed) == data


def test_loads_at_once_in_several_threads_leave_the_switch_interval_as_it_was():
    from concurrent.futures import ThreadPoolExecutor

    before = sys.getswitchinterval()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda seed: load_bytes(iris_like(3000, seed), block_bytes=1000), range(8)))

    assert sys.getswitchinterval() == before


@pytest.mark.parametrize(
    ("head", "line_end"),
    [
        (b"a,b\n1,2\n", b"\n"),
        (b"a,b\r\n1,2\r\n", b"\n"),
        (b"a,b\r1,2\r", b"\r"),
        (b"a,b\r", b"\r"),
        (b"a,b", b"\n"),
    ],
)
def test_a_files_line_terminator_is_told_from_its_header_line(head, line_end):
    assert line_terminator(head) == line_end


class _Counting(io.BytesIO):
    """A stream that counts the bytes read from it."""

    served = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.served += len(data)
        return data


def test_a_range_refuses_a_line_longer_than_the_bound_naming_the_parts_line():
    data = b"1,2\n3,4\n" + b"x" * (MAX_LINE_BYTES + 10)

    with pytest.raises(InputError) as caught:
        list(owned_lines(io.BytesIO(data), 0, len(data), block_bytes=1 << 16))

    assert caught.value.code == "malformed_csv"
    assert caught.value.message == f"line 3 is longer than {MAX_LINE_BYTES:,} bytes"
    assert caught.value.line == 3


def test_a_range_refuses_a_whole_line_longer_than_the_bound_naming_the_parts_line():
    data = b"1,2\n3,4\n" + b"x" * (MAX_LINE_BYTES + 1) + b"\n5,6\n"

    with pytest.raises(InputError) as caught:
        list(owned_lines(io.BytesIO(data), 0, len(data)))

    assert_too_long(caught, 3)


def test_a_range_hands_out_a_line_of_exactly_the_bound():
    data = b"1,2\n" + b"x" * MAX_LINE_BYTES + b"\n5,6\n"
    assert b"".join(owned_lines(io.BytesIO(data), 0, len(data))) == data


def test_a_range_over_a_line_without_end_reads_no_further_than_the_bound():
    block_bytes = 1 << 16
    stream = _Counting(b"x" * (8 * MAX_LINE_BYTES))

    with pytest.raises(InputError):
        list(owned_lines(stream, 0, 8 * MAX_LINE_BYTES, block_bytes))

    assert stream.served <= MAX_LINE_BYTES + 2 * block_bytes


def test_a_range_inside_a_too_long_line_reads_no_further_than_the_bound():
    # The range the line starts in refuses it; this one has nothing to hand out.
    block_bytes = 1 << 16
    start = 4 * MAX_LINE_BYTES
    stream = _Counting(b"x" * (8 * MAX_LINE_BYTES - start + 1))

    assert list(owned_lines(stream, start, start + MAX_LINE_BYTES, block_bytes)) == []
    assert stream.served <= MAX_LINE_BYTES + 2 * block_bytes


@pytest.mark.parametrize("row", [1, 40], ids=["first data row", "first row of a later block"])
def test_a_byte_order_mark_inside_the_file_is_its_cells_own(row):
    lines = IRIS_CSV.read_text().splitlines()
    cells = lines[row].split(",")
    cells[0] = "\ufeff" + cells[0]
    lines[row] = ",".join(cells)
    data = ("\n".join(lines) + "\n").encode()
    # Blocks of about 40 lines: a later block starts at a row of its own.
    block = len("\n".join(lines[:row]).encode()) + 1 if row > 1 else 2 << 20
    with pytest.raises(InputError) as refused:
        load_bytes(data, block_bytes=block)
    assert refused.value.code == "non_numeric" and refused.value.line == row + 1
