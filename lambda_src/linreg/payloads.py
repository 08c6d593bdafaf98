"""The wire formats: the JSON documents that travel between the function, the state
machine and the bucket, typed once here so that every reader and writer agrees.

A run's execution input (``RunPayload``) reaches every step; the plan step writes one
``PlanItem`` per part and answers a ``PlanRef``; a part writes its ``PartResult`` beside
the plan. ``Report`` is report.json, as docs/reference.md's table describes it
(``tests/outputs/test_report.py`` holds the two to each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict


class Source(TypedDict):
    """How reports, latest.json and a run's payload name the upload they trained on."""

    bucket: str
    key: str
    etag: str
    version_id: str | None
    last_modified: str
    sequencer: str | None
    size: int


class ObjectRef(TypedDict):
    """One version of one object of the bucket: an upload or a manifest's part file."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int


class RunPayload(ObjectRef):
    """A distributed run's execution input: what every step of the state machine is given.
    The state machine adds ``plan`` (the plan step's answer) and, on a failure, ``error``
    (Step Functions' ``{"Error", "Cause"}``)."""

    run_id: str
    name: str
    settings: dict[str, str]
    source: Source
    plan: NotRequired[PlanRef]
    error: NotRequired[dict[str, str]]


class PlanRef(TypedDict):
    """Where the plan lies, and how many parts it has; a refused plan names no object."""

    bucket: str | None
    key: str | None
    parts: int
    seconds: NotRequired[float]  # how long planning took, for the run's cost


class PlanItem(ObjectRef):
    """One part of a distributed run: a byte range of one file (or a whole .gz), with what
    it needs to parse alone."""

    index: int
    start: int
    end: int
    whole_file: bool
    data_start: int
    line_end: str
    header: list[str]
    settings: dict[str, str]
    max_bytes: int | None
    statistics_key: str


class PartResult(TypedDict):
    """A part's sufficient statistics (or the problem it met, as ``error``), written at
    its ``statistics_key`` for the reduce."""

    index: int
    lines: int
    error: dict[str, Any] | None
    key: NotRequired[str]
    bytes: NotRequired[int]
    train: NotRequired[dict[str, Any]]
    test: NotRequired[dict[str, Any]]
    test_sample: NotRequired[dict[str, list]]
    levels_seen: NotRequired[list[list[int]]]
    seconds: NotRequired[float]  # how long the part took, for the run's cost


class Report(TypedDict, total=False):
    """report.json. Every run writes most fields; docs/reference.md says which are null
    when, and which only some runs write (``error``, the sampled curve's two)."""

    status: str
    dataset: str
    run_id: str | None
    test_mse: float | None
    train_mse: float | None
    test_r2: float | None
    train_r2: float | None
    baseline_test_mse: float
    baseline_train_mse: float
    baseline_test_r2: float | None
    baseline_train_r2: float | None
    baseline_params: dict[str, Any]
    fit_sample: dict[str, Any] | None
    iterations_run: int
    loss_history: list[float | None]
    loss_history_iterations: list[int]
    loss_history_file: str
    hyperparameters: dict[str, Any]
    stopped: str
    standardization: dict[str, Any] | None
    rows: dict[str, int]
    split: str
    params: dict[str, Any] | None
    ignored_columns: list[str]
    warnings: list[str]
    input: Mapping[str, Any] | None
    execution: dict[str, Any]
    timings: dict[str, float]
    cost: dict[str, Any] | None
    promoted: bool
    promotion: dict[str, Any]
    files: list[str]
    error: dict[str, Any]
