"""Hostile and mistaken inputs to a distributed run, through the handler and the stack's
synthesized state machine in moto: manifests are untrusted, every
problem is recorded with its documented code in an execution that succeeds, and the
limits of one upload hold for a dataset in parts."""

import gzip
import json

import numpy as np

from helpers import (
    BUCKET,
    FakeStepFunctions,
    event_for,
    iris_like,
    keys,
    process,
    read_json,
    real_function,
    started_run,
)
from linreg import handler
from linreg.local.state_machine import run_state_machine

IRIS = (iris_like(150, seed=4)).splitlines(keepends=True)


def put(s3, key: str, body: bytes, **options) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **options)


def put_manifest(s3, name: str, document: object) -> str:
    key = f"incoming/{name}.manifest.json"
    put(s3, key, json.dumps(document).encode())
    return key


def run_upload(s3, template, key: str, env: dict):
    """The upload handed to the state machine, and that execution run to its end."""
    run = started_run(s3, key, env)
    return run_state_machine(template, real_function, run, bucket=BUCKET)


def refused(execution) -> dict:
    """The outcome of a run the state machine refused, which must end SUCCEEDED."""
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.calls_of("part") == [], "a refused run trains no part"
    return execution.output


def parts_of_iris(s3, folder: str, count: int) -> list[str]:
    """150 iris-like rows in ``count`` part files, each with the header."""
    header, rows = IRIS[0], IRIS[1:]
    cut = np.array_split(np.arange(len(rows)), count)
    names = []
    for index, lines in enumerate(cut):
        key = f"{folder}part-{index:05d}.csv"
        put(s3, key, header + b"".join(rows[i] for i in lines))
        names.append(key)
    return names


def reads_of(s3, keys_read: list) -> None:
    def note(params, **_) -> None:
        keys_read.append(params.get("Key"))

    handler.s3_client().meta.events.register("before-parameter-build.s3.*", note)


def test_a_part_outside_the_upload_prefix_is_refused_unread(s3, template, scale_out_env):
    put(s3, "models/victim/20260101T000000Z-aaaaaaaaaaaa/secret.csv", b"SECRET,LINE\n1,2\n")
    (part,) = parts_of_iris(s3, "incoming/evil/", 1)
    victim = "models/victim/20260101T000000Z-aaaaaaaaaaaa/secret.csv"
    key = put_manifest(s3, "evil", {"parts": [part, victim]})
    read: list[str] = []
    reads_of(s3, read)

    outcome = refused(run_upload(s3, template, key, scale_out_env))

    assert outcome["code"] == "bad_manifest" and "outside the upload prefix" in outcome["message"]
    assert victim not in read
    assert "SECRET" not in json.dumps(read_json(s3, outcome["failure_key"]))


def test_a_part_named_twice_is_trained_once(s3, template, scale_out_env):
    files = parts_of_iris(s3, "incoming/twice/", 3)
    key = put_manifest(s3, "twice", {"parts": files * 20})

    execution = run_upload(s3, template, key, scale_out_env)

    assert execution.status == "SUCCEEDED", execution.cause
    assert len(execution.calls_of("part")) == 3
    assert execution.output["rows"] == 150


def test_parts_given_as_one_string_are_a_bad_manifest(s3, template, scale_out_env):
    (part,) = parts_of_iris(s3, "incoming/text/", 1)
    key = put_manifest(s3, "text", {"parts": part})

    outcome = refused(run_upload(s3, template, key, scale_out_env))

    assert outcome["code"] == "bad_manifest" and "list of keys" in outcome["message"]


def test_a_manifest_that_is_not_json_is_recorded_as_bad_manifest(s3, template, scale_out_env):
    put(s3, "incoming/broken.manifest.json", b'{"parts": [')

    outcome = refused(run_upload(s3, template, "incoming/broken.manifest.json", scale_out_env))

    assert outcome["code"] == "bad_manifest"
    assert read_json(s3, outcome["failure_key"])["error"]["code"] == "bad_manifest"


def test_a_manifest_above_its_size_limit_is_refused(s3, template, scale_out_env):
    keys_listed = [f"incoming/many/part-{index:07d}.csv" for index in range(40_000)]
    key = put_manifest(s3, "many", {"parts": keys_listed})

    outcome = refused(run_upload(s3, template, key, scale_out_env))

    assert outcome["code"] == "bad_manifest" and "larger than" in outcome["message"]


def test_a_missing_part_is_recorded_as_input_missing(s3, template, scale_out_env):
    (part,) = parts_of_iris(s3, "incoming/gone/", 1)
    key = put_manifest(s3, "gone", {"parts": [part, "incoming/gone/part-00001.csv"]})

    outcome = refused(run_upload(s3, template, key, scale_out_env))

    assert outcome["code"] == "input_missing"


def test_parts_whose_headers_differ_are_recorded_as_malformed(s3, template, scale_out_env):
    first, second = parts_of_iris(s3, "incoming/headers/", 2)
    body = s3.get_object(Bucket=BUCKET, Key=second)["Body"].read()
    put(s3, second, body.replace(b"sepal_length,", b"sepal_len,", 1))
    key = put_manifest(s3, "headers", {"parts": [first, second]})

    outcome = refused(run_upload(s3, template, key, scale_out_env))

    assert outcome["code"] == "malformed_csv" and second in outcome["message"]


def test_more_part_files_than_the_cap_are_refused_before_any_is_read(
    s3, template, scale_out_env, monkeypatch
):
    monkeypatch.setenv("LINREG_MAX_PARTS", "3")
    files = parts_of_iris(s3, "incoming/capped/", 4)
    key = put_manifest(s3, "capped", {"prefix": "incoming/capped/"})
    read: list[str] = []
    reads_of(s3, read)

    outcome = refused(run_upload(s3, template, key, {**scale_out_env, "LINREG_MAX_PARTS": "3"}))

    assert outcome["code"] == "too_many_parts"
    assert not set(files) & set(read)


def test_a_dataset_above_the_input_limit_is_refused_up_front(
    s3, template, scale_out_env, monkeypatch
):
    monkeypatch.setenv("LINREG_MAX_INPUT_BYTES", "2000")
    parts_of_iris(s3, "incoming/heavy/", 3)
    key = put_manifest(s3, "heavy", {"prefix": "incoming/heavy/"})

    outcome = refused(
        run_upload(s3, template, key, {**scale_out_env, "LINREG_MAX_INPUT_BYTES": "2000"})
    )

    assert outcome["code"] == "too_large"


def test_a_gzip_part_that_inflates_past_the_limit_is_too_large(
    s3, template, scale_out_env, monkeypatch
):
    monkeypatch.setenv("LINREG_MAX_INPUT_BYTES", "200000")
    rows = iris_like(60_000)
    put(s3, "incoming/bomb/part-00000.csv.gz", gzip.compress(rows, compresslevel=9))
    key = put_manifest(s3, "bomb", {"prefix": "incoming/bomb/"})

    execution = run_upload(s3, template, key, {**scale_out_env, "LINREG_MAX_INPUT_BYTES": "200000"})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["code"] == "too_large"


def test_a_file_above_the_input_limit_never_starts(s3, monkeypatch, scale_out_env):
    env = {**scale_out_env, "LINREG_MAX_INPUT_BYTES": str(1 << 20)}
    put(s3, "incoming/huge.csv", iris_like(60_000))
    sfn = FakeStepFunctions()

    outcome = process(s3, "incoming/huge.csv", env, sfn)

    assert outcome["code"] == "too_large" and sfn.executions == {}


def test_the_tutorial_engine_is_refused_before_a_distributed_run_starts(s3, scale_out_env):
    key = "incoming/tutorial.manifest.json"
    put(s3, key, b'{"prefix": "incoming/tutorial/"}', Metadata={"engine": "tutorial"})
    sfn = FakeStepFunctions()

    outcome = process(s3, key, scale_out_env, sfn)

    assert outcome["code"] == "invalid_hyperparameters" and sfn.executions == {}
    assert "statistics engine" in outcome["message"]


def test_a_huge_bad_cell_ends_the_run_with_a_short_record(s3, template, scale_out_env):
    header, rows = IRIS[0], IRIS[1:]
    bad = b"5.0,3.1," + b"x" * 300_000 + b",0.2,setosa\n"
    put(s3, "incoming/cell/part-00000.csv", header + b"".join(rows[:50]) + bad)
    key = put_manifest(s3, "cell", {"prefix": "incoming/cell/"})

    execution = run_upload(s3, template, key, scale_out_env)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output["code"] == "non_numeric"
    assert len(json.dumps(execution.output)) < 2000
    assert len(json.dumps(read_json(s3, execution.output["failure_key"]))) < 4000


def test_a_small_manifest_trains_on_the_exact_split_as_the_whole_file_would(
    s3, template, scale_out_env
):
    parts_of_iris(s3, "incoming/small/", 3)
    key = put_manifest(s3, "small", {"prefix": "incoming/small/"})
    put(s3, "incoming/whole.csv", b"".join(IRIS))
    (whole,) = handler.handle_event(event_for("incoming/whole.csv"), s3=s3, env={})

    execution = run_upload(s3, template, key, scale_out_env)

    assert execution.status == "SUCCEEDED", execution.cause
    report = read_json(s3, execution.output["prefix"] + "report.json")
    one_pass = read_json(s3, whole["prefix"] + "report.json")
    assert report["rows"] == one_pass["rows"]
    assert report["params"] == one_pass["params"]
    assert report["test_mse"] == one_pass["test_mse"]


def test_a_file_with_old_mac_line_ends_trains_in_parts_as_with_newlines(
    s3, template, scale_out_env
):
    # Both above the threshold, so both in parts (a file with newlines trained in parts
    # gets the one-pass model: test_distributed_run.py).
    body = iris_like(120_000)
    put(s3, "incoming/mac.csv", body.replace(b"\n", b"\r"))
    put(s3, "incoming/unix.csv", body)

    mac, unix = (
        run_upload(s3, template, key, scale_out_env)
        for key in ("incoming/mac.csv", "incoming/unix.csv")
    )

    assert mac.status == unix.status == "SUCCEEDED", (mac.cause, unix.cause)
    assert len(mac.calls_of("part")) == len(unix.calls_of("part")) > 1
    ours, theirs = (read_json(s3, run.output["prefix"] + "report.json") for run in (mac, unix))
    assert ours["rows"] == theirs["rows"] and ours["params"] == theirs["params"]


def test_a_name_too_long_for_the_part_files_is_refused_before_it_starts(s3, scale_out_env):
    name = "n" * 960
    key = f"incoming/{name}.csv"
    put(s3, key, iris_like(60_000))
    sfn = FakeStepFunctions()

    outcome = process(s3, key, scale_out_env, sfn)

    assert outcome["code"] == "bad_key" and sfn.executions == {}
    assert all(len(stored.encode()) <= 1024 for stored in keys(s3))
