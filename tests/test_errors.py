"""How an error quotes the input, and how its line moves when a part's lines are counted in
the whole file."""

from linreg.errors import InputError, excerpt, excerpt_name


def test_a_short_value_is_quoted_as_repr_quotes_it():
    assert excerpt("wide") == "'wide'"
    assert excerpt("a\tb\x00") == repr("a\tb\x00")


def test_a_long_value_is_cut_to_its_start_with_its_length():
    quoted = excerpt("x" * 1_000_000)

    assert quoted == f"{'x' * 40!r}… (1,000,000 characters)"


def test_a_cut_value_still_escapes_control_characters():
    assert excerpt("\n" * 100).startswith("'\\n\\n")


def test_a_short_printable_name_is_shown_as_it_is():
    assert excerpt_name("petal width") == "petal width"


def test_a_long_or_unprintable_name_is_shown_as_an_excerpt():
    assert excerpt_name("n" * 1000) == excerpt("n" * 1000)
    assert excerpt_name("a\x00") == "'a\\x00'"


def test_shifting_moves_the_line_in_the_message_and_the_details_only():
    error = InputError("non_numeric", "column c, line 5: 'line 5' is not a finite number", line=5)

    moved = error.shifted(10)

    assert moved.as_dict() == {
        "code": "non_numeric",
        "message": "column c, line 15: 'line 5' is not a finite number",
        "details": {"line": 15},
    }


def test_shifting_keeps_the_other_details():
    error = InputError("malformed_csv", "line 2 is too long", {"stage": "reading"}, line=2)

    assert error.shifted(1).details == {"stage": "reading", "line": 3}


def test_an_error_at_no_line_is_not_shifted():
    error = InputError("no_data", "the file has a header but no data rows")

    assert error.shifted(10).as_dict() == error.as_dict()


def test_the_line_survives_the_failure_record():
    record = InputError("missing_value", "column c, line 4: the value is blank", line=4).as_dict()

    assert InputError(**record).line == 4
