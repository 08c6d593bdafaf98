"""The reduce step of a distributed run: the parts' statistics summed into the run's
dataset, or, for a dataset one function would have split exactly, its files read again in
one pass."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING

from linreg.config import Hyperparameters, Limits
from linreg.deadline import Deadline
from linreg.payloads import PlanItem, RunPayload
from linreg.service import storage
from linreg.service.distributed_steps import READ_THREADS, distributed_above, open_range
from linreg.spec import spec_named
from linreg.training import parts
from linreg.training.data import (
    BLOCK_BYTES,
    EXACT_SPLIT_MAX_ROWS,
    Dataset,
    TestSample,
    load,
    plain,
    whole_file_lines,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def parts_dataset(
    s3: S3Client,
    run: RunPayload,
    *,
    limits: Limits,
    env: Mapping[str, str],
    deadline: Deadline | None = None,
) -> tuple[Dataset, float]:
    """The run's dataset, summed from its parts' statistics (``reduce``'s first half), and
    the seconds the parts took, summed; a dataset small enough for the tutorial's exact
    split is read again in one pass and split so."""
    plan_location = run["plan"]
    bucket, key = plan_location["bucket"], plan_location["key"]
    if bucket is None or key is None:
        raise ValueError("a refused plan has no parts to sum")
    items, _ = storage.read_json(s3, bucket, key)
    hyperparameters = Hyperparameters.from_strings(run["settings"])
    spec = spec_named(hyperparameters.dataset)
    sample = TestSample.empty(len(spec.features))
    results = []
    # Thousands of parts: read them a few dozen at a time, not a thread each, and fold each
    # part's sample of test rows in as it arrives, so only the statistics stay in memory.
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="parts") as pool:
        read = pool.map(
            lambda item: storage.read_json(s3, item["bucket"], item["statistics_key"])[0], items
        )
        for result in read:
            if result is not None:
                sample = parts.merge_sample(sample, result, hyperparameters.split_seed)
                results.append(result)
    dataset = parts.reduce(
        results,
        parts=len(items),
        header=items[0]["header"],
        spec=spec,
        test_size=hyperparameters.test_size,
        test_sample=sample,
        max_bytes=limits.max_input_bytes,
    )
    seconds = sum(result.get("seconds", 0.0) for result in results)
    if _fits_one_pass(dataset, items, env):
        return _one_pass(s3, items, hyperparameters, limits=limits, deadline=deadline), seconds
    return dataset, seconds


def _fits_one_pass(dataset: Dataset, items: list[PlanItem], env: Mapping[str, str]) -> bool:
    """Whether one function would have trained this dataset with the exact split: rows
    within the exact split's size, in files it would have trained whole."""
    stored = sum(item["size"] for item in _first_items(items))
    line_ends = {item["line_end"] for item in items}
    return (
        dataset.total_rows <= EXACT_SPLIT_MAX_ROWS
        and stored <= distributed_above(env)
        and len(line_ends) == 1
    )


def _one_pass(
    s3: S3Client,
    items: list[PlanItem],
    hyperparameters: Hyperparameters,
    *,
    limits: Limits,
    deadline,
) -> Dataset:
    """The files' data lines, under one header, read as one upload of them would be."""
    files = _first_items(items)
    header_line = (",".join(files[0]["header"]) + files[0]["line_end"]).encode()
    return load(
        _Chunks(itertools.chain([header_line], _data_chunks(s3, files))),
        spec=spec_named(hyperparameters.dataset),
        test_size=hyperparameters.test_size,
        split_seed=hyperparameters.split_seed,
        max_bytes=limits.max_input_bytes + len(header_line),
        deadline=deadline,
    )


def _first_items(items: list[PlanItem]) -> list[PlanItem]:
    """One plan item per file (its first), in plan order."""
    first: dict[str, PlanItem] = {}
    for item in items:
        first.setdefault(item["key"], item)
    return list(first.values())


def _data_chunks(s3: S3Client, files: list[PlanItem]) -> Iterator[bytes]:
    """Each file's data lines in turn (its header left out), each file ending with a line
    end, so that the next file's first line stays a line of its own."""
    for file in files:
        line_end, last = file["line_end"].encode(), b""
        body = open_range(s3, file, first_byte=0 if file["whole_file"] else file["data_start"])
        with closing(body):
            if file["whole_file"]:
                chunks = whole_file_lines(plain(body, file["max_bytes"]))
            else:
                chunks = iter(functools.partial(body.read, BLOCK_BYTES), b"")
            for last in chunks:
                yield last
        if last and not last.endswith(line_end):
            yield line_end


class _Chunks:
    """An iterator of byte strings read as one stream, at most ``size`` bytes a read."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buffer = chunks, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        cut = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return data
