"""The input corpus: each file under data/corpus/, what must come of it, and words the
message must contain (the column or line a user needs to fix it)."""

from helpers import DATA

CORPUS_DIR = DATA / "corpus"

# (file, outcome: "succeeded", "diverged" or the error code, words in the message)
CORPUS = [
    ("reordered_columns.csv", "succeeded", ""),
    ("extra_columns.csv", "succeeded", ""),
    ("uci_species_names.csv", "succeeded", ""),
    ("crlf_line_endings.csv", "succeeded", ""),
    ("byte_order_mark.csv", "succeeded", ""),
    ("quoted_fields.csv", "succeeded", ""),
    ("trailing_whitespace.csv", "succeeded", ""),
    ("blank_lines.csv", "succeeded", ""),
    ("comma_only_lines.csv", "succeeded", ""),
    ("one_species.csv", "succeeded", ""),
    ("huge_values.csv", "diverged", "training diverged at iteration"),
    ("overflow_values.csv", "values_out_of_range", "column sepal_length, line 2"),
    ("empty.csv", "empty_file", "empty"),
    ("header_only.csv", "no_data", "no data rows"),
    ("missing_column.csv", "missing_columns", "petal_width"),
    ("duplicate_column.csv", "duplicate_columns", "petal_width"),
    ("non_numeric.csv", "non_numeric", "column petal_width, line 5: 'wide'"),
    ("infinite_value.csv", "non_numeric", "column sepal_width, line 22: 'inf'"),
    ("blank_cell.csv", "missing_value", "column sepal_width, line 4"),
    ("whitespace_line.csv", "missing_value", "line 21"),
    ("unknown_species.csv", "unknown_species", "line 4: 'rosa'"),
    ("too_few_rows.csv", "too_few_rows", "8 data rows"),
    ("ragged_row.csv", "malformed_csv", "line 3"),
    ("ragged_first_row.csv", "malformed_csv", "line 2"),
    ("unclosed_quote.csv", "malformed_csv", "line 22: a quoted value opens here and is never"),
    ("semicolon_delimited.csv", "missing_columns", "delimiter"),
    ("latin1.csv", "bad_encoding", "UTF-8"),
    ("binary_garbage.csv", "bad_encoding", "UTF-8"),
    ("nul_in_cell.csv", "bad_encoding", "column sepal_length, line 3: '4.9\\x00xyz'"),
    ("nul_in_species.csv", "bad_encoding", "column iris, line 5: 'setosa\\x00evil'"),
    ("utf16_without_bom.csv", "bad_encoding", "UTF-16"),
    ("too_many_columns.csv", "too_many_columns", "125 columns"),
]

OUTCOMES = ("succeeded", "diverged")
FAILING = [case for case in CORPUS if case[1] not in OUTCOMES]
