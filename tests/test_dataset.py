import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from conftest import IRIS_CSV
from corpus import CORPUS_DIR, FAILING
from linreg.dataset import FEATURES, features, load_table, split
from linreg.errors import InputError


def test_shipped_iris_is_scikit_learns_copy():
    from sklearn.datasets import load_iris

    shipped = pd.read_csv(IRIS_CSV)
    reference = load_iris()
    np.testing.assert_allclose(shipped.iloc[:, :4].to_numpy(), reference.data)
    assert list(shipped["iris"]) == [reference.target_names[t] for t in reference.target]


def test_features_are_the_tutorials_with_indicator_columns(iris_bytes):
    X, y = features(load_table(iris_bytes))
    frame = pd.read_csv(IRIS_CSV)
    np.testing.assert_array_equal(X[:, 0], frame["sepal_width"])
    np.testing.assert_array_equal(X[:, 3], frame["iris"] == "setosa")
    np.testing.assert_array_equal(X[:, 4], frame["iris"] == "versicolor")
    np.testing.assert_array_equal(y[:, 0], frame["sepal_length"])
    assert X.shape == (150, len(FEATURES))


def test_target_is_a_column_so_residuals_cannot_broadcast(iris_bytes):
    _, y = features(load_table(iris_bytes))
    assert y.shape == (150, 1)


def test_split_takes_the_rows_sklearn_takes_from_the_tutorials_frame(iris_bytes):
    X, y = features(load_table(iris_bytes))
    parts = split(X, y, test_size=0.3, seed=1)
    frame_train, frame_test = train_test_split(pd.read_csv(IRIS_CSV), test_size=0.3, random_state=1)
    np.testing.assert_array_equal(parts.train_index, frame_train.index)
    np.testing.assert_array_equal(parts.test_index, frame_test.index)
    assert (len(parts.X_train), len(parts.X_test)) == (105, 45)


def test_column_order_does_not_matter(iris_bytes):
    reordered = features(load_table((CORPUS_DIR / "reordered_columns.csv").read_bytes()))
    original = features(load_table(iris_bytes))
    for got, want in zip(reordered, original, strict=True):
        np.testing.assert_array_equal(got, want)


def test_extra_columns_are_ignored_and_listed(iris_bytes):
    table = load_table((CORPUS_DIR / "extra_columns.csv").read_bytes())
    assert table.ignored_columns == ("id", "note")
    np.testing.assert_array_equal(features(table)[0], features(load_table(iris_bytes))[0])


def test_uci_species_names_and_crlf_are_accepted(iris_bytes):
    table = load_table((CORPUS_DIR / "uci_species_names.csv").read_bytes())
    np.testing.assert_array_equal(features(table)[0], features(load_table(iris_bytes))[0])


def test_byte_order_mark_is_ignored(iris_bytes):
    assert load_table(b"\xef\xbb\xbf" + iris_bytes).rows == 150


def test_blank_lines_are_skipped_and_line_numbers_stay_true(iris_bytes):
    lines = iris_bytes.decode().splitlines()
    text = "\n".join([lines[0], lines[1], "", lines[2], "4.7,3.2,1.3,oops,setosa"]) + "\n\n"
    with pytest.raises(InputError, match="line 5"):
        load_table(text.encode())


PARSE_ERRORS = [case for case in FAILING if case[1] != "too_few_rows"]


@pytest.mark.parametrize(("name", "code", "words"), PARSE_ERRORS, ids=[c[0] for c in PARSE_ERRORS])
def test_bad_file_raises_its_code_and_says_where(name, code, words):
    with pytest.raises(InputError) as caught:
        load_table((CORPUS_DIR / name).read_bytes())
    assert caught.value.code == code
    assert words in caught.value.message


def test_gzip_compressed_csv_is_read(iris_bytes):
    assert load_table(gzip.compress(iris_bytes)).rows == 150


def test_gzip_that_uncompresses_past_the_limit_is_refused(iris_bytes):
    with pytest.raises(InputError) as caught:
        load_table(gzip.compress(iris_bytes), max_bytes=1000)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize("damage", [lambda b: b[:200], lambda b: b[:10] + b"x" * 50])
def test_damaged_gzip_is_refused(iris_bytes, damage):
    with pytest.raises(InputError) as caught:
        load_table(damage(gzip.compress(iris_bytes)))
    assert caught.value.code == "bad_gzip"


def test_a_single_species_is_accepted_with_a_warning():
    table = load_table((CORPUS_DIR / "one_species.csv").read_bytes())
    assert table.rows == 50
    assert "only setosa present" in table.warnings[0]


def test_too_few_rows_to_split_is_an_input_error():
    X, y = features(load_table((CORPUS_DIR / "too_few_rows.csv").read_bytes()))
    with pytest.raises(InputError) as caught:
        split(X, y, test_size=0.3, seed=1)
    assert caught.value.code == "too_few_rows"
    assert "8 data rows" in caught.value.message
