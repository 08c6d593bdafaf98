"""The bucket's key layout: where uploads, runs, pointers and failure records live, and
what a run is called. ``Layout`` is the one owner of every key rule.

    incoming/<name>.csv[.gz]                 uploads; the function never writes here
    models/<name>/<run_id>/report.json ...   one folder per succeeded run
    models/<name>/latest.json                points at the newest succeeded run
    models/<name>/index.html                 the model's page: its runs (model_page)
    failures/<name>/<run_id>.json            one record per failed or diverged run
    .../event.json, <run_id>.event.json      the completion event's claim (service.completion)
    predict/<name>/<file>.csv[.gz]           CSVs to score with model <name>'s run
    predictions/<name>/<file>.csv            each scored (a .csv.gz upload: <file>.gz.csv)
    failures/_predictions/<name>/<file>.csv/<job_id>.json   a prediction that failed
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from linreg.contract import (
    DEFAULT_FAILURES_PREFIX,
    DEFAULT_INCOMING_PREFIX,
    DEFAULT_MODELS_PREFIX,
    DEFAULT_PREDICT_PREFIX,
    DEFAULT_PREDICTIONS_PREFIX,
    DISTRIBUTED_FOLDER,
    EVENT_FILE,
    FAILURES_PREFIX_ENV,
    INCOMING_PREFIX_ENV,
    LATEST_FILE,
    MANIFEST_SUFFIX,
    MAX_PARTS,
    MODEL_PAGE_FILE,
    MODELS_PREFIX_ENV,
    PART_FILE,
    PLAN_FILE,
    PREDICT_PREFIX_ENV,
    PREDICTIONS_PREFIX_ENV,
    REPORT_FILE,
    RUN_FILES,
    STARTED_FILE,
    UPLOAD_SUFFIXES,
)
from linreg.errors import excerpt, is_hidden

# S3's longest key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
# Run ids read "<upload time>-<12 hex digits>" (run_id below).
RUN_ID_LENGTH = len("20260101T000000Z-") + 12
RUN_ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{12}")
# What a compressed upload's name ends with (incoming/a.csv.gz → a.gz): no other may.
COMPRESSED_NAME_SUFFIX = UPLOAD_SUFFIXES[0].removeprefix(".csv")
# Where failure records of uploads with unusable names go (under the failures prefix).
QUARANTINE_FOLDER = "unusable-keys"
# Where failure records of predictions go (under the failures prefix): a first folder no
# model may have (name_problem), so no model's runs listing ever shows them.
PREDICTION_FAILURES_FOLDER = "_predictions"


@dataclass(frozen=True)
class PredictionJob:
    """One upload to score: ``predict/a/b/x.csv`` is model ``a/b``'s file ``x.csv``, written
    to ``predictions/a/b/x.csv`` (``x.csv.gz`` to ``x.gz.csv``, as a model's name keeps it)."""

    model: str
    file: str  # the output's file name


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Where things live in the bucket: the one owner of every key rule."""

    incoming: str = DEFAULT_INCOMING_PREFIX
    models: str = DEFAULT_MODELS_PREFIX
    failures: str = DEFAULT_FAILURES_PREFIX
    predict: str = DEFAULT_PREDICT_PREFIX
    predictions: str = DEFAULT_PREDICTIONS_PREFIX

    def __post_init__(self) -> None:
        # Output under an upload prefix would trigger the function on its own output, and
        # failure records under the models prefix would be listed as models (or runs).
        named = {
            "upload": self.incoming,
            "models": self.models,
            "failures": self.failures,
            "predict": self.predict,
            "predictions": self.predictions,
        }
        for (name_a, a), (name_b, b) in itertools.combinations(named.items(), 2):
            if a.startswith(b) or b.startswith(a):
                raise ValueError(f"the {name_a} prefix {a!r} and the {name_b} prefix {b!r} overlap")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Layout:
        names = {
            "incoming": INCOMING_PREFIX_ENV,
            "models": MODELS_PREFIX_ENV,
            "failures": FAILURES_PREFIX_ENV,
            "predict": PREDICT_PREFIX_ENV,
            "predictions": PREDICTIONS_PREFIX_ENV,
        }
        return cls(**{field: env[name] for field, name in names.items() if env.get(name)})

    def model_name(self, key: str) -> str | None:
        """``incoming/a/b.csv`` → ``a/b``, ``incoming/a/b.csv.gz`` → ``a/b.gz`` (a plain and
        a compressed upload never share a model), in Unicode's composed form (NFC), so that
        ``café`` typed on a Mac and on Linux is one model; ``None`` for a key not to train
        on."""
        if not key.startswith(self.incoming):
            return None
        path = key[len(self.incoming) :]
        suffix = next(
            (end for end in (*UPLOAD_SUFFIXES, MANIFEST_SUFFIX) if path.endswith(end)), ""
        )
        stem = path.removesuffix(suffix)
        if not suffix or not stem:
            return None
        compressed = COMPRESSED_NAME_SUFFIX if suffix == UPLOAD_SUFFIXES[0] else ""
        return unicodedata.normalize("NFC", stem + compressed)

    def name_problem(self, name: str, *, key: str) -> str | None:
        """Why ``name`` cannot name a model's keys, or ``None`` when it can: hidden
        characters make names that look alike and break tools (``errors.is_hidden``), S3
        would store ``..`` or an empty segment literally, a folder named like a run id would
        sit among another model's runs, and S3 keys end at 1,024 bytes (a distributed run's
        part statistics included). ``key`` is the upload's: only a compressed upload's name
        may end in ``.gz``."""
        quoted = excerpt(name)
        if any(is_hidden(char) for char in name):
            return (
                f"the upload's name {quoted} holds control, invisible or direction-changing "
                "characters"
            )
        segments = name.split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            return f"the upload's name {quoted} has an empty, '.' or '..' folder"
        # Run folders keep the scale-out's files under distributed/, which the stack lets the
        # function write without conditions; a model folder there would escape write-once.
        if segments[0] == PREDICTION_FAILURES_FOLDER:
            return (
                f"the upload's name {quoted} starts with a folder named "
                f"{PREDICTION_FAILURES_FOLDER!r}, which is kept for predictions' failure records"
            )
        if DISTRIBUTED_FOLDER.rstrip("/") in segments[1:]:
            return f"the upload's name {quoted} has a folder named 'distributed' below its first"
        if any(is_run_id(segment) for segment in segments[1:]):
            return f"the upload's name {quoted} has a folder below its first named like a run id"
        if name.endswith(COMPRESSED_NAME_SUFFIX) and not key.endswith(UPLOAD_SUFFIXES[0]):
            return (
                f"the upload's name {quoted} ends in {COMPRESSED_NAME_SUFFIX}, which is kept for "
                f"the models of {UPLOAD_SUFFIXES[0]} uploads: rename it"
            )
        run_id = "x" * RUN_ID_LENGTH
        distributed = [
            DISTRIBUTED_FOLDER + file
            for file in (PLAN_FILE, STARTED_FILE, PART_FILE.format(index=MAX_PARTS - 1))
        ]
        return too_long(
            [
                self.run_prefix(name, run_id) + file
                for file in (*RUN_FILES, REPORT_FILE, EVENT_FILE, *distributed)
            ]
            + [self.event_claim_beside(self.failure_key(name, run_id)), self.page_key(name)]
        )

    def prediction_job(self, key: str) -> PredictionJob | None:
        """``predict/a/b/x.csv`` → model ``a/b``, file ``x.csv``; ``predict/a/x.csv.gz`` →
        ``a``, ``x.gz.csv``; names in Unicode's composed form (NFC), as ``model_name``'s.
        ``None`` for a key outside the predict prefix or not a CSV's; a file with no model
        folder (``predict/x.csv``) has the model ``""``, for ``prediction_problem``."""
        if not key.startswith(self.predict):
            return None
        path = unicodedata.normalize("NFC", key[len(self.predict) :])
        suffix = next((end for end in UPLOAD_SUFFIXES if path.endswith(end)), "")
        model, _, stem = path.removesuffix(suffix).rpartition("/")
        if not suffix or not stem:
            return None
        compressed = COMPRESSED_NAME_SUFFIX if suffix == UPLOAD_SUFFIXES[0] else ""
        return PredictionJob(model=model, file=stem + compressed + UPLOAD_SUFFIXES[1])

    def prediction_problem(self, job: PredictionJob, *, key: str) -> str | None:
        """Why a prediction upload's keys cannot be used, or ``None``: the model's name
        follows a training upload's rules (``name_problem``), the file's name has no hidden
        characters and ends in ``.gz`` only for a compressed upload (``a.gz.csv`` and
        ``a.csv.gz`` would share an output), and no output key passes S3's limit."""
        if not job.model:
            return f"{excerpt(key)} names no model: upload to {self.predict}<model>/<file>.csv"
        compressed = job.model.endswith(COMPRESSED_NAME_SUFFIX)
        training_key = self.incoming + job.model.removesuffix(COMPRESSED_NAME_SUFFIX)
        training_key += UPLOAD_SUFFIXES[0] if compressed else UPLOAD_SUFFIXES[1]
        problem = self.name_problem(job.model, key=training_key)
        if problem is not None:
            return problem.replace("the upload's name", "the model's name", 1)
        stem = job.file.removesuffix(UPLOAD_SUFFIXES[1])
        if any(is_hidden(char) for char in stem):
            return (
                f"the file's name {excerpt(stem)} holds control, invisible or "
                "direction-changing characters"
            )
        if stem.endswith(COMPRESSED_NAME_SUFFIX) and not key.endswith(UPLOAD_SUFFIXES[0]):
            return (
                f"the file's name {excerpt(stem)} ends in {COMPRESSED_NAME_SUFFIX}, which is kept "
                f"for the predictions of {UPLOAD_SUFFIXES[0]} uploads: rename it"
            )
        return too_long(
            [self.prediction_key(job), self.prediction_failure_key(job, "x" * RUN_ID_LENGTH)]
        )

    def prediction_key(self, job: PredictionJob) -> str:
        """Where a prediction upload's scored rows go."""
        return f"{self.predictions}{job.model}/{job.file}"

    def prediction_failure_key(self, job: PredictionJob, job_id: str) -> str:
        """A failed prediction's record: under a folder no model's name may start with, so
        never among a model's runs."""
        return f"{self.failures}{PREDICTION_FAILURES_FOLDER}/{job.model}/{job.file}/{job_id}.json"

    def quarantine_key(self, key: str, run_id: str) -> str:
        """A failure record's key for an upload whose name cannot be used (``name_problem``):
        always valid, and the same for the same upload."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return f"{self.failures}{QUARANTINE_FOLDER}/{digest}/{run_id}.json"

    def model_folder(self, name: str) -> str:
        """Where a model's runs and its latest.json live."""
        return f"{self.models}{name}/"

    def name_of_model_folder(self, folder: str) -> str | None:
        """``models/a/b/`` → ``a/b``; ``None`` for a folder outside the models prefix."""
        folder = folder.rstrip("/") + "/"
        if not folder.startswith(self.models) or folder == self.models:
            return None
        return folder[len(self.models) : -1]

    def run_prefix(self, name: str, run_id: str) -> str:
        return f"{self.model_folder(name)}{run_id}/"

    def failure_folder(self, name: str) -> str:
        """Where a model's failure records live."""
        return f"{self.failures}{name}/"

    def latest_key(self, name: str) -> str:
        return f"{self.model_folder(name)}{LATEST_FILE}"

    def page_key(self, name: str) -> str:
        """The model's page, beside latest.json."""
        return f"{self.model_folder(name)}{MODEL_PAGE_FILE}"

    def failure_key(self, name: str, run_id: str) -> str:
        return f"{self.failure_folder(name)}{run_id}.json"

    def event_claim_beside(self, failure_key: str) -> str:
        """Where a failed run's completion event is claimed: beside its record, under a
        name no listing takes for a run's (``<run_id>.event.json``)."""
        return f"{failure_key.removesuffix('.json')}.{EVENT_FILE}"


def too_long(keys: list[str]) -> str | None:
    """Why an upload cannot be used when the longest of the ``keys`` it would make passes
    S3's limit, or ``None``."""
    longest = max(keys, key=lambda key: len(key.encode()))
    if len(longest.encode()) > MAX_KEY_BYTES:
        return (
            f"the upload's key is too long: its outputs' keys (such as {excerpt(longest)}) "
            f"would pass S3's limit of {MAX_KEY_BYTES:,} bytes"
        )
    return None


def run_id_for(
    *, etag: str, version_id: str | None, last_modified: datetime, settings: dict
) -> str:
    """``<upload time>-<digest>``: sorts by upload time, and the same object version trained
    with the same settings always gets the same id (a redelivered event repeats a run, not
    adds one)."""
    identity = json.dumps(
        {"etag": etag, "version_id": version_id, "settings": settings}, sort_keys=True
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{last_modified.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}"


def is_run_id(text: str) -> bool:
    """Whether ``text`` has the form ``run_id`` gives."""
    return RUN_ID_PATTERN.fullmatch(text) is not None
