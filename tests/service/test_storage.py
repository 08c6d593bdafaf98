import io
import json
import threading
import time
from datetime import UTC, datetime

import pytest

from linreg.service.layout import Layout, run_id_for
from linreg.service.storage import (
    WRITE_ATTEMPTS,
    WriteConflict,
    concurrently,
    put_if_absent,
    swap,
    update_latest,
    write_files,
)


def test_model_name_strips_the_upload_prefix_and_suffix():
    assert Layout().model_name("incoming/lab/a b.csv") == "lab/a b"


@pytest.mark.parametrize("key", ["models/a.csv", "incoming/a.txt", "incoming/.csv", "a.csv"])
def test_keys_that_are_not_uploads_have_no_model_name(key):
    assert Layout().model_name(key) is None


def test_layout_comes_from_the_environment_with_defaults():
    layout = Layout.from_env({"MODELS_PREFIX": "trained/", "FAILURES_PREFIX": ""})
    assert (layout.incoming, layout.models, layout.failures) == (
        "incoming/",
        "trained/",
        "failures/",
    )


@pytest.mark.parametrize(
    "options",
    [
        {"models": "incoming/models/"},
        {"failures": "incoming/"},
        {"incoming": "models/in/"},
        {"predictions": "predict/out/"},
        {"predict": "models/score/"},
    ],
)
def test_outputs_may_never_land_under_the_upload_prefix(options):
    with pytest.raises(ValueError, match="overlap"):
        Layout(**options)


def test_run_id_is_stable_for_the_same_version_and_settings():
    when = datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)
    first = run_id_for(etag="abc", version_id=None, last_modified=when, settings={})
    assert first == run_id_for(etag="abc", version_id=None, last_modified=when, settings={})
    assert first.startswith("20261129T120005Z-")


@pytest.mark.parametrize(
    "change", [{"etag": "abd"}, {"version_id": "v2"}, {"settings": {"seed": "1"}}]
)
def test_run_id_changes_with_content_version_or_settings(change):
    when = datetime(2026, 11, 29, tzinfo=UTC)
    base = {"etag": "abc", "version_id": None, "last_modified": when, "settings": {}}
    assert run_id_for(**base) != run_id_for(**{**base, **change})


class BarrierS3:
    """Each put_object waits until ``parties`` puts are in flight together: puts made one
    after another break the barrier instead."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.keys: list[str] = []

    def put_object(self, *, Key: str, **_) -> None:
        if not Key.endswith("report.json"):
            self.barrier.wait()
        self.keys.append(Key)


def test_a_runs_files_are_written_at_once():
    s3 = BarrierS3(parties=3)
    files = {"params.json": b"{}", "params.nd": b"", "loss.png": b""}
    write_files(s3, "bucket", "models/iris/run/", files)
    assert sorted(s3.keys) == sorted(f"models/iris/run/{name}" for name in files)


def test_writing_a_runs_files_refuses_the_report_which_goes_last_on_its_own():
    with pytest.raises(ValueError, match="last"):
        write_files(BarrierS3(parties=1), "bucket", "models/iris/run/", {"report.json": b"{}"})


def test_concurrent_calls_all_end_before_the_first_error_is_raised():
    ended = threading.Event()

    def fails() -> None:
        raise ValueError("first")

    def slow() -> None:
        time.sleep(0.05)
        ended.set()

    def also_fails() -> None:
        raise KeyError("second")

    with pytest.raises(ValueError, match="first"):
        concurrently(fails, slow, also_fails)
    assert ended.is_set()


def test_a_compressed_upload_names_its_own_model():
    assert Layout().model_name("incoming/lab/a.csv.gz") == "lab/a.gz"


@pytest.mark.parametrize(
    "name",
    [
        "../models/x",
        "a/./b",
        "a//b",
        "/a",
        "a/",
        "tab\there",
        "bell\x07",
        "x" * 1000,
        "a/distributed/b",
        "next\x85line",  # C1 control
        "csi\x9b2J",  # C1 control sequence introducer
        "esc\x1b[2J",
        "evil\u202egnp.csv",  # right-to-left override
        "iso\u2066late",
        "zero\u200bwidth",
        "joiner\u200d",
        "bom\ufeff",
        "soft\u00adhyphen",
        "line\u2028separator",
        "hangul\u3164filler",
        "iris/20260101T000000Z-0123456789ab",  # would sit among iris's runs
    ],
)
def test_unusable_names_are_refused_with_a_reason(name):
    assert Layout().name_problem(name, key=f"incoming/{name}.csv")


@pytest.mark.parametrize(
    "name",
    [
        "iris",
        "field trials/iris été 2026",
        "a.b/c-d_e",
        "x" * 900,
        "distributed/a",
        "日本語\u3000データ",
        "20260101T000000Z-0123456789ab",  # a model's own folder may look like one
    ],
)
def test_ordinary_names_are_usable(name):
    assert Layout().name_problem(name, key=f"incoming/{name}.csv") is None


def test_a_refused_name_is_quoted_with_its_hidden_characters_escaped():
    problem = Layout().name_problem("a\u202eb\x1b", key="incoming/a\u202eb\x1b.csv")
    assert "\\u202e" in problem and "\\x1b" in problem
    assert "\u202e" not in problem and "\x1b" not in problem


def test_composed_and_decomposed_names_are_one_model():
    composed = Layout().model_name("incoming/caf\u00e9.csv")
    decomposed = Layout().model_name("incoming/cafe\u0301.csv")
    assert composed == decomposed == "caf\u00e9"


def test_a_plain_upload_may_not_take_a_compressed_uploads_name():
    layout = Layout()
    compressed, plain = "incoming/a.csv.gz", "incoming/a.gz.csv"
    assert layout.model_name(compressed) == layout.model_name(plain) == "a.gz"
    assert layout.name_problem("a.gz", key=compressed) is None
    assert "rename" in layout.name_problem("a.gz", key=plain)


def test_a_manifest_may_not_take_a_compressed_uploads_name():
    key = "incoming/a.gz.manifest.json"
    assert Layout().name_problem(Layout().model_name(key), key=key)


def test_the_quarantine_key_is_short_and_stable_whatever_the_upload_key():
    layout = Layout()
    key = "incoming/" + "../" * 400 + "x.csv"
    first = layout.quarantine_key(key, "20260101T000000Z-0123456789ab")
    assert first == layout.quarantine_key(key, "20260101T000000Z-0123456789ab")
    assert first.startswith("failures/") and len(first.encode()) < 100


class ConflictingS3:
    """put_object answers with the given error codes in turn, then does as asked."""

    def __init__(self, *codes: str, stored: bool = False) -> None:
        self.codes, self.stored, self.puts = list(codes), stored, 0

    def put_object(self, **kwargs):
        from botocore.exceptions import ClientError

        self.puts += 1
        if self.codes:
            code = self.codes.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": code}}, "PutObject")
        self.stored = True

    def head_object(self, **kwargs):
        from botocore.exceptions import ClientError

        if not self.stored:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {}


def test_a_409_conflict_is_retried_not_taken_for_a_duplicate():
    s3 = ConflictingS3("ConditionalRequestConflict", "ConditionalRequestConflict")
    assert put_if_absent(s3, "b", "models/x/r/report.json", b"{}") is True
    assert s3.puts == 3


def test_a_412_is_a_duplicate_only_once_the_winners_object_is_seen():
    s3 = ConflictingS3("PreconditionFailed", stored=True)
    assert put_if_absent(s3, "b", "models/x/r/report.json", b"{}") is False


def test_a_412_without_an_object_to_show_for_it_is_tried_again():
    s3 = ConflictingS3("PreconditionFailed")
    assert put_if_absent(s3, "b", "models/x/r/report.json", b"{}") is True


@pytest.mark.slow
def test_conflicts_that_never_end_raise_so_lambda_retries():
    s3 = ConflictingS3(*["ConditionalRequestConflict"] * 10)
    with pytest.raises(RuntimeError):
        put_if_absent(s3, "b", "models/x/r/report.json", b"{}")


class VanishingLatest:
    """latest.json is read, then deleted before the write that was conditional on it."""

    def __init__(self, pointer: dict) -> None:
        self.pointer, self.reads, self.written = pointer, 0, None

    def get_object(self, **kwargs):
        from botocore.exceptions import ClientError

        self.reads += 1
        if self.reads > 1:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return {"Body": io.BytesIO(json.dumps(self.pointer).encode()), "ETag": '"e1"'}

    def put_object(self, **kwargs):
        from botocore.exceptions import ClientError

        if "IfMatch" in kwargs:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "PutObject")
        self.written = kwargs


def test_latest_json_deleted_since_it_was_read_is_read_again_and_written():
    old = {"run_id": "old", "input": {"key": "incoming/a.csv", "last_modified": "2026-01-01"}}
    new = {"run_id": "new", "input": {"key": "incoming/a.csv", "last_modified": "2026-01-02"}}
    s3 = VanishingLatest(old)
    assert update_latest(s3, "b", "models/a/latest.json", new) is True
    assert s3.written["IfNoneMatch"] == "*" and json.loads(s3.written["Body"]) == new


def test_every_conditional_write_gives_up_after_the_same_number_of_races():
    s3 = ConflictingS3(*["PreconditionFailed"] * WRITE_ATTEMPTS)
    with pytest.raises(WriteConflict):
        swap(s3, "b", "models/a/index.html", lambda attempt: (b"page", '"etag"'))
    assert s3.puts == WRITE_ATTEMPTS


def test_failure_records_may_never_land_under_the_models_prefix():
    with pytest.raises(ValueError, match="the models prefix 'models/' and the failures prefix"):
        Layout(models="models/", failures="models/f/")
