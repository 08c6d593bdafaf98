"""Predictions on upload, through the handler on moto: a CSV under predict/<name>/ scored
by model <name>'s run into predictions/<name>/, once, never over a newer upload's, and a
failure record for what cannot be scored."""

import gzip
import io

import pandas as pd
import pytest

from helpers import BUCKET, event_for, iris_like, keys, read_json
from linreg import handler
from linreg.cli import main
from linreg.contract import Metric
from linreg.service import published
from linreg.service.layout import Layout, PredictionJob
from linreg.service.predictions import PredictionOutcome
from linreg.training.predict import predict, predict_stream

SCORED = "predictions/iris/a.csv"


def handle(s3, key: str, env: dict | None = None, **object_fields) -> dict:
    (outcome,) = handler.handle_event(event_for(key, **object_fields), s3=s3, env=env or {})
    return outcome


def train(s3, body: bytes, metadata: dict | None = None) -> dict:
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=body, Metadata=metadata or {})
    outcome = handle(s3, "incoming/iris.csv")
    assert outcome["status"] == "succeeded"
    return outcome


def score(s3, body: bytes, key: str = "predict/iris/a.csv", metadata=None, env=None) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata or {})
    return handle(s3, key, env)


def scored(s3, key: str = SCORED) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def params_of(s3, run_id: str) -> dict:
    return read_json(s3, f"models/iris/{run_id}/params.json")


def assert_recorded_without_predictions(s3, outcome: dict, code: str) -> dict:
    assert (outcome["status"], outcome["code"]) == ("failed", code)
    assert outcome["failure_key"].startswith("failures/_predictions/iris/a.csv/")
    assert keys(s3, "predictions/") == []
    return read_json(s3, outcome["failure_key"])


# --- scoring -------------------------------------------------------------------------------


def test_an_upload_to_predict_is_scored_as_linreg_predict_scores_it(s3, iris_bytes, tmp_path):
    run = train(s3, iris_bytes)
    (tmp_path / "a.csv").write_bytes(iris_bytes)

    outcome = score(s3, iris_bytes)

    assert (
        main(
            [
                "predict",
                f"s3://{BUCKET}/models/iris",
                str(tmp_path / "a.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert (outcome["status"], outcome["predictions_key"]) == ("succeeded", SCORED)
    assert (outcome["model_run_id"], outcome["rows"]) == (run["run_id"], 150)
    assert scored(s3) == (tmp_path / "p.csv").read_bytes()


def test_the_predictions_carry_their_provenance_in_their_metadata(s3, iris_bytes):
    run = train(s3, iris_bytes)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=iris_bytes)["VersionId"]

    outcome = handle(s3, "predict/iris/a.csv", versionId=version)

    metadata = s3.head_object(Bucket=BUCKET, Key=SCORED)["Metadata"]
    assert metadata["job-id"] == outcome["job_id"]
    assert metadata["model-run-id"] == run["run_id"]
    assert metadata["source-version-id"] == version
    assert metadata["rows"] == "150"


def test_run_id_metadata_picks_that_run_over_the_latest(s3, iris_bytes):
    first = train(s3, iris_bytes, {"seed": "3"})
    latest = train(s3, iris_bytes, {"seed": "4"})

    outcome = score(s3, iris_bytes, metadata={"run-id": first["run_id"]})

    assert outcome["model_run_id"] == first["run_id"] != latest["run_id"]
    assert scored(s3) == predict(params_of(s3, first["run_id"]), iris_bytes)


def test_a_gzipped_upload_is_scored_into_its_own_file(s3, iris_bytes):
    train(s3, iris_bytes)

    outcome = score(s3, gzip.compress(iris_bytes), key="predict/iris/a.csv.gz")

    assert outcome["predictions_key"] == "predictions/iris/a.gz.csv"
    assert scored(s3, "predictions/iris/a.gz.csv") == predict(
        params_of(s3, outcome["model_run_id"]), iris_bytes
    )


def test_a_model_in_a_folder_scores_uploads_under_that_folder(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/lab/iris.csv", Body=iris_bytes)
    handle(s3, "incoming/lab/iris.csv")

    outcome = score(s3, iris_bytes, key="predict/lab/iris/a.csv")

    assert (outcome["status"], outcome["predictions_key"]) == (
        "succeeded",
        "predictions/lab/iris/a.csv",
    )


# --- once, and never back to an older upload -----------------------------------------------


def test_a_redelivery_does_not_rewrite_the_predictions(s3, iris_bytes):
    train(s3, iris_bytes)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    score(s3, iris_bytes)
    before = s3.head_object(Bucket=BUCKET, Key=SCORED)

    again = handle(s3, "predict/iris/a.csv")

    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=SCORED)["Versions"]
    assert (again["status"], again["duplicate"]) == ("succeeded", True)
    assert [version["VersionId"] for version in versions] == [before["VersionId"]]


def test_a_redelivery_after_a_new_latest_run_keeps_the_first_predictions(s3, iris_bytes):
    first = train(s3, iris_bytes, {"seed": "3"})
    score(s3, iris_bytes)
    train(s3, iris_bytes, {"seed": "4"})

    again = handle(s3, "predict/iris/a.csv")

    assert (again["duplicate"], again["model_run_id"]) == (True, first["run_id"])
    assert scored(s3) == predict(params_of(s3, first["run_id"]), iris_bytes)


def test_an_older_upload_processed_after_a_newer_one_does_not_replace_its_predictions(
    s3, iris_bytes
):
    train(s3, iris_bytes)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "predict/iris/a.csv"
    old = s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)["VersionId"]
    newer_body = iris_bytes.replace(b"5.1,3.5", b"5.2,3.5")
    new = s3.put_object(Bucket=BUCKET, Key=key, Body=newer_body)["VersionId"]
    handle(s3, key, versionId=new, sequencer="006B1C2D3E4F5A6B7C")
    before = s3.head_object(Bucket=BUCKET, Key=SCORED)

    older = handle(s3, key, versionId=old, sequencer="006B1C2D3E4F5A6B70")

    after = s3.head_object(Bucket=BUCKET, Key=SCORED)
    assert older["status"] == "skipped"
    assert (after["ETag"], after["Metadata"]["source-version-id"]) == (before["ETag"], new)


def test_a_newer_upload_replaces_an_older_uploads_predictions(s3, iris_bytes):
    train(s3, iris_bytes)
    score(s3, iris_bytes)

    outcome = score(s3, iris_bytes.replace(b"5.1,3.5", b"5.2,3.5"))

    assert outcome["status"] == "succeeded" and "duplicate" not in outcome
    assert b"\n5.2,3.5," in scored(s3)


# --- failure records -----------------------------------------------------------------------


def test_a_csv_missing_a_column_gets_a_failure_record(s3, iris_bytes):
    train(s3, iris_bytes)

    outcome = score(s3, b"sepal_width,petal_length\n3.5,1.4\n")

    record = assert_recorded_without_predictions(s3, outcome, "missing_columns")
    assert record["input"]["key"] == "predict/iris/a.csv"


def test_a_bad_number_gets_a_failure_record_naming_its_line(s3, iris_bytes):
    train(s3, iris_bytes)
    lines = iris_bytes.splitlines(keepends=True)
    lines[3] = b"5.0,3.1,x,0.2,setosa\n"

    outcome = score(s3, b"".join(lines))

    record = assert_recorded_without_predictions(s3, outcome, "non_numeric")
    assert record["error"]["details"]["line"] == 4


def test_scoring_without_a_trained_model_gets_a_failure_record(s3, iris_bytes):
    outcome = score(s3, iris_bytes)

    assert_recorded_without_predictions(s3, outcome, "model_not_found")
    assert "train it first" in outcome["message"]


def test_an_unknown_run_id_gets_a_failure_record(s3, iris_bytes):
    train(s3, iris_bytes)

    outcome = score(s3, iris_bytes, metadata={"run-id": "20260101T000000Z-0123456789ab"})

    assert_recorded_without_predictions(s3, outcome, "run_not_found")


def test_an_upload_above_the_input_limit_gets_a_failure_record(s3, iris_bytes):
    train(s3, iris_bytes)

    outcome = score(s3, iris_bytes, env={"LINREG_MAX_INPUT_BYTES": "1000"})

    assert_recorded_without_predictions(s3, outcome, "too_large")


def test_a_redelivered_failure_is_not_recorded_again(s3, iris_bytes):
    first = score(s3, iris_bytes)

    again = handle(s3, "predict/iris/a.csv")

    assert (again["status"], again["duplicate"]) == ("failed", True)
    assert again["failure_key"] == first["failure_key"]


def test_an_upload_naming_no_model_is_refused_as_bad_key(s3, iris_bytes):
    outcome = score(s3, iris_bytes, key="predict/a.csv")

    assert (outcome["status"], outcome["code"]) == ("failed", "bad_key")
    assert outcome["failure_key"].startswith("failures/unusable-keys/")


def test_prediction_failures_are_not_listed_among_the_models_runs(s3, iris_bytes):
    run = train(s3, iris_bytes)
    score(s3, b"sepal_width\n1\n")

    listing = published.model_runs(f"s3://{BUCKET}/models/iris", s3=s3)

    assert [row["run_id"] for row in listing.runs] == [run["run_id"]]


def test_predictions_are_counted_in_their_own_metrics(monkeypatch):
    counted = []
    monkeypatch.setattr(handler.metrics, "add_metric", lambda **metric: counted.append(metric))
    outcomes = [
        PredictionOutcome(bucket=BUCKET, key="predict/iris/a.csv", status=status)
        for status in ("succeeded", "failed")
    ]

    handler.publish_metrics(outcomes)

    assert [metric["name"] for metric in counted] == [
        Metric.PREDICTIONS_WRITTEN,
        Metric.PREDICTIONS_FAILED,
    ]


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "model", "file"),
    [
        ("predict/iris/a.csv", "iris", "a.csv"),
        ("predict/lab/iris/a b.csv", "lab/iris", "a b.csv"),
        ("predict/iris/a.csv.gz", "iris", "a.gz.csv"),
        ("predict/iris.gz/a.csv", "iris.gz", "a.csv"),
        ("predict/cafe\u0301/a.csv", "caf\u00e9", "a.csv"),
    ],
)
def test_a_prediction_upload_names_its_model_by_every_folder_but_the_last(key, model, file):
    assert Layout().prediction_job(key) == PredictionJob(model=model, file=file)


@pytest.mark.parametrize(
    "key",
    [
        "predict/iris/a.gz.csv",  # would share a.csv.gz's output
        "predict/a/20260101T000000Z-0123456789ab/x.csv",  # no model may have that name
        "predict/iris/esc\x1b[2J.csv",
        "predict/_predictions/x/a.csv",
    ],
)
def test_unusable_prediction_keys_are_refused_with_a_reason(key):
    layout = Layout()

    assert layout.prediction_problem(layout.prediction_job(key), key=key)


def test_no_model_may_take_the_folder_kept_for_prediction_failures():
    assert Layout().name_problem("_predictions/iris", key="incoming/_predictions/iris.csv")


def test_streamed_predictions_of_many_blocks_are_one_csv_of_every_row():
    params = {
        "target": "sepal_length",
        "features": ["sepal_width", "petal_length", "petal_width", "i_setosa", "i_versicolor"],
        "weights": {
            "sepal_width": 1.0,
            "petal_length": 2.0,
            "petal_width": 3.0,
            "i_setosa": 4.0,
            "i_versicolor": 5.0,
        },
        "bias": 0.5,
    }
    data = iris_like(150_000)  # more than one 2 MiB block
    out = io.BytesIO()
    blocks = []

    rows = predict_stream(params, io.BytesIO(data), out, each_block=blocks.append)

    frame = pd.read_csv(io.BytesIO(out.getvalue()))
    expected = (
        frame.sepal_width
        + 2 * frame.petal_length
        + 3 * frame.petal_width
        + 4 * (frame.iris == "setosa")
        + 5 * (frame.iris == "versicolor")
        + 0.5
    )
    assert rows == len(frame) == 150_000 and len(blocks) > 1
    assert (frame.predicted_sepal_length - expected).abs().max() < 1e-9
