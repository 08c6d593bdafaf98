"""A CSV stream → what training needs: the statistics of the train and test parts.

What other packages use, re-exported here; the modules, in the order data flows:

- ``stream``: bytes → uncompressed, size-limited, whole-line blocks → header and data; a
  byte range's own lines (``owned_lines``), for a file trained in parts;
- ``checks``: a block's lines as the file numbers them, read as text (``text_frame``), and
  every problem in them named by column and line;
- ``parse``: a block → validated X, y and level codes; the header's check, the design
  matrix of rows to predict on (``predictors``), the warnings for levels never seen;
- ``split``: the exact and hashed splits, the statistics accumulator, the sample of test
  rows;
- ``loading``: one pass over a stream, its blocks parsed on a few threads: ``load`` for a
  whole file (a ``Dataset``), ``load_part`` for one part of one (``PartStatistics``).

Memory is bounded by the block size, not by the file. Knows nothing of S3 or MXNet.
"""

from linreg.training.data.checks import text_frame
from linreg.training.data.loading import Dataset, PartStatistics, load, load_bytes, load_part
from linreg.training.data.parse import check_header, level_warnings, predictors
from linreg.training.data.split import (
    EXACT_SPLIT_MAX_ROWS,
    Rows,
    SplitKind,
    TestSample,
    check_sides,
)
from linreg.training.data.stream import (
    BLOCK_BYTES,
    GZIP_MAGIC,
    Readable,
    line_blocks,
    line_terminator,
    owned_lines,
    plain,
    split_header,
    whole_file_lines,
)

__all__ = [
    "BLOCK_BYTES",
    "EXACT_SPLIT_MAX_ROWS",
    "GZIP_MAGIC",
    "Dataset",
    "PartStatistics",
    "Readable",
    "Rows",
    "SplitKind",
    "TestSample",
    "check_header",
    "check_sides",
    "level_warnings",
    "line_blocks",
    "line_terminator",
    "load",
    "load_bytes",
    "load_part",
    "owned_lines",
    "plain",
    "predictors",
    "split_header",
    "text_frame",
    "whole_file_lines",
]
