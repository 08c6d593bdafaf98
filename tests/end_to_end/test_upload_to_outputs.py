"""The whole path: upload → S3 notification → handler → outputs in S3 (moto, no network)."""

import gzip
import itertools
import json
import sys
import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from corpus import CORPUS, CORPUS_DIR
from helpers import BUCKET, ROOT, event_for, keys, read_json, run_keys
from linreg import handler, pipeline
from linreg.config import Hyperparameters
from linreg.contract import LOSS_HISTORY_FILE, REPORT_FILE, RUN_FILES
from linreg.service import upload

# The keys one iris run leaves under models/iris/: its files (its whole curve fits in
# report.json), and latest.json.
ONE_IRIS_RUN = len({*RUN_FILES, REPORT_FILE} - {LOSS_HISTORY_FILE}) + 1


@pytest.fixture
def notifications(s3):
    """S3 → SQS notifications on incoming/*.csv: moto delivers the event S3 would send."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rules = [{"Name": "prefix", "Value": "incoming/"}, {"Name": "suffix", "Value": ".csv"}]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": rules}},
                }
            ]
        },
    )

    def events() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
        return [body for body in bodies if "Records" in body]  # drop s3:TestEvent

    return events


def upload_and_handle(s3, notifications, key: str, body: bytes, env=None) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    (event,) = notifications()
    (outcome,) = handler.handle_event(event, s3=s3, env=env or {})
    return outcome


def test_uploaded_csv_publishes_a_complete_model_run(s3, notifications, iris_bytes):
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", iris_bytes)

    prefix = f"models/iris/{outcome['run_id']}/"
    assert outcome["status"] == "succeeded"
    assert keys(s3, "models/") == sorted(
        [
            prefix + name
            for name in (
                "loss.png",
                "model.sql",
                "params.json",
                "params.nd",
                "report.html",
                "report.json",
            )
        ]
        + ["models/iris/index.html", "models/iris/latest.json"]
    )
    report = read_json(s3, prefix + "report.json")
    assert report["test_mse"] == pipeline.run(iris_bytes, Hyperparameters()).report["test_mse"]
    assert report["input"]["key"] == "incoming/iris.csv"
    assert report["input"]["etag"] == s3.head_object(Bucket=BUCKET, Key="incoming/iris.csv")[
        "ETag"
    ].strip('"')
    params = read_json(s3, prefix + "params.json")
    assert len(params["weights"]) == 5 and isinstance(params["bias"], float)
    png = s3.get_object(Bucket=BUCKET, Key=prefix + "loss.png")["Body"].read()
    assert png.startswith(b"\x89PNG")
    assert read_json(s3, "models/iris/latest.json")["run_id"] == outcome["run_id"]


@pytest.mark.slow
def test_key_with_spaces_and_accents_is_decoded(s3, notifications, iris_bytes):
    outcome = upload_and_handle(s3, notifications, "incoming/field trials/été 1.csv", iris_bytes)
    assert outcome["status"] == "succeeded"
    assert outcome["prefix"].startswith("models/field trials/été 1/")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected", "words"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_file_gives_its_outcome_and_leaves_the_input_alone(
    s3, notifications, name, expected, words
):
    data = (CORPUS_DIR / name).read_bytes()
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", data)

    assert s3.get_object(Bucket=BUCKET, Key="incoming/iris.csv")["Body"].read() == data
    if expected == "succeeded":
        assert outcome["status"] == "succeeded"
        assert keys(s3, "failures/") == []
        return
    assert outcome.get("code") == expected
    assert run_keys(s3) == []
    record = read_json(s3, outcome["failure_key"])
    assert record["error"]["code"] == expected
    assert words in record["error"]["message"]


def test_extra_columns_are_listed_in_the_report(s3, notifications):
    data = (CORPUS_DIR / "extra_columns.csv").read_bytes()
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", data)
    assert read_json(s3, outcome["prefix"] + "report.json")["ignored_columns"] == ["id", "note"]


def test_a_single_species_run_carries_a_warning(s3, notifications):
    data = (CORPUS_DIR / "one_species.csv").read_bytes()
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", data)
    assert "only setosa" in read_json(s3, outcome["prefix"] + "report.json")["warnings"][0]


def test_diverged_run_is_recorded_as_failure_not_published(s3, notifications, iris_bytes):
    env = {"LINREG_LOSS": "sum", "LINREG_LEARNING_RATE": "1.0"}
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", iris_bytes, env)

    assert outcome["status"] == "diverged"
    assert run_keys(s3) == []
    record = read_json(s3, outcome["failure_key"])
    assert record["report"]["status"] == "diverged"
    assert record["settings"] == {"learning_rate": "1.0", "loss": "sum"}


@pytest.mark.slow
def test_invalid_hyperparameters_in_the_environment_are_recorded(s3, notifications, iris_bytes):
    env = {"LINREG_ITERATIONS": "0"}
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", iris_bytes, env)
    assert outcome["code"] == "invalid_hyperparameters"
    assert keys(s3, "failures/") == [outcome["failure_key"]]


def test_hyperparameters_from_the_environment_are_used_and_reported(s3, notifications, iris_bytes):
    env = {"LINREG_ITERATIONS": "7", "LINREG_SEED": "3"}
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", iris_bytes, env)
    report = read_json(s3, outcome["prefix"] + "report.json")
    assert len(report["loss_history"]) == 7
    assert report["hyperparameters"]["seed"] == 3


def test_keys_outside_incoming_csv_are_skipped_and_nothing_is_written(s3, iris_bytes):
    event = json.loads((ROOT / "events" / "s3-put.json").read_text())
    before = keys(s3)
    for key in ("models/iris.csv", "incoming/iris.txt", "incoming/.csv"):
        event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
        event["Records"][0]["s3"]["object"]["key"] = key
        (outcome,) = handler.handle_event(event, s3=s3, env={})
        assert outcome["status"] == "skipped"
    assert keys(s3) == before


def test_s3_test_event_is_ignored(s3):
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    assert handler.handle_event(event, s3=s3, env={}) == []


def test_object_deleted_before_reading_is_recorded_as_input_missing(s3, notifications, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    s3.delete_object(Bucket=BUCKET, Key="incoming/iris.csv")
    (outcome,) = handler.handle_event(event, s3=s3, env={})
    assert outcome["code"] == "input_missing"
    assert keys(s3, "failures/") == [outcome["failure_key"]]


def test_s3_errors_raise_so_lambda_retries(s3, notifications, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    event["Records"][0]["s3"]["bucket"]["name"] = "no-such-bucket"
    with pytest.raises(s3.exceptions.NoSuchBucket):
        handler.handle_event(event, s3=s3, env={})


@pytest.mark.slow
def test_same_upload_delivered_twice_gives_one_run(s3, notifications, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    first = handler.handle_event(event, s3=s3, env={})
    second = handler.handle_event(event, s3=s3, env={})
    assert first[0]["run_id"] == second[0]["run_id"]
    assert len(run_keys(s3, "models/iris/")) == ONE_IRIS_RUN


def test_latest_does_not_move_back_to_an_older_upload(s3, notifications, iris_bytes):
    future = {"run_id": "newer", "input": {"last_modified": "2999-01-01T00:00:00+00:00"}}
    s3.put_object(Bucket=BUCKET, Key="models/iris/latest.json", Body=json.dumps(future))
    outcome = upload_and_handle(s3, notifications, "incoming/iris.csv", iris_bytes)
    assert outcome["latest_moved"] is False
    assert read_json(s3, "models/iris/latest.json")["run_id"] == "newer"


def test_lambda_handler_reads_layout_and_settings_from_the_environment(
    s3, notifications, iris_bytes, monkeypatch
):
    monkeypatch.setenv("MODELS_PREFIX", "trained/")
    monkeypatch.setenv("LINREG_ITERATIONS", "3")
    handler.forget_clients()  # a client cached outside this moto context
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    (outcome,) = handler.lambda_handler(event, None)["outcomes"]
    assert outcome["prefix"].startswith("trained/iris/")
    assert len(read_json(s3, outcome["prefix"] + "report.json")["loss_history"]) == 3


def test_event_naming_a_version_that_is_gone_is_recorded_as_input_missing(
    s3, notifications, iris_bytes
):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)["VersionId"]
    (event,) = notifications()
    event["Records"][0]["s3"]["object"]["versionId"] = version
    s3.delete_object(Bucket=BUCKET, Key="incoming/iris.csv", VersionId=version)
    (outcome,) = handler.handle_event(event, s3=s3, env={})
    assert outcome["code"] == "input_missing"
    assert version in outcome["message"]


def test_the_version_named_in_the_event_is_the_one_trained(s3, notifications, iris_bytes):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    first = s3.list_object_versions(Bucket=BUCKET, Prefix="incoming/")["Versions"][0]["VersionId"]
    event["Records"][0]["s3"]["object"]["versionId"] = first
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=b"overwritten, not a csv")
    (outcome,) = handler.handle_event(event, s3=s3, env={})
    assert outcome["status"] == "succeeded"
    assert read_json(s3, outcome["prefix"] + "report.json")["input"]["version_id"] == first


@pytest.mark.slow
def test_gzip_upload_is_trained_like_the_plain_file(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv.gz", Body=gzip.compress(iris_bytes))
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv.gz"), s3=s3, env={})
    assert outcome["status"] == "succeeded"
    assert outcome["prefix"].startswith("models/iris.gz/")
    assert outcome["test_mse"] == pipeline.run(iris_bytes, Hyperparameters()).report["test_mse"]


def test_plain_and_compressed_uploads_of_one_name_are_separate_models(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv.gz", Body=gzip.compress(iris_bytes))

    plain, packed = (
        handler.handle_event(event_for(key), s3=s3, env={})[0]
        for key in ("incoming/iris.csv", "incoming/iris.csv.gz")
    )

    assert read_json(s3, "models/iris/latest.json")["run_id"] == plain["run_id"]
    assert read_json(s3, "models/iris.gz/latest.json")["run_id"] == packed["run_id"]


def test_upload_over_the_size_limit_is_refused_before_download(s3, iris_bytes, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    downloads = []
    monkeypatch.setattr(s3, "get_object", lambda **kw: downloads.append(kw))
    env = {"LINREG_MAX_INPUT_BYTES": "1000"}
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    assert outcome["code"] == "too_large"
    assert "1,000" in outcome["message"]
    assert downloads == [] or all("failures/" in d["Key"] for d in downloads)


@pytest.mark.parametrize(
    "env",
    [
        {"LINREG_LEARNING_RATE": "-0.1"},
        {"LINREG_ITERATIONS": "0"},
        {"LINREG_LOSS": "median"},
        {"LINREG_SEED": "one"},
    ],
    ids=lambda env: "=".join(next(iter(env.items()))),
)
def test_invalid_hyperparameter_is_a_failure_record(s3, iris_bytes, env):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    assert outcome["code"] == "invalid_hyperparameters"
    assert run_keys(s3) == []


@pytest.mark.slow
def test_failed_run_delivered_twice_keeps_one_record(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=b"")
    first, second = (
        handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})[0] for _ in range(2)
    )
    assert second["duplicate"] and second["code"] == first["code"] == "empty_file"
    assert keys(s3, "failures/") == [first["failure_key"]]


def test_concurrent_duplicate_that_loses_the_publish_race_adds_nothing(s3, iris_bytes, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (winner,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    latest_before = read_json(s3, "models/iris/latest.json")
    # The loser checked before the winner finished, so it trains and tries to publish too.
    stored_json = upload.storage.read_json

    def before_the_winner(s3, bucket, key):
        return (None, None) if key.endswith("/report.json") else stored_json(s3, bucket, key)

    monkeypatch.setattr(upload.storage, "read_json", before_the_winner)
    (loser,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    assert loser["duplicate"] and loser["run_id"] == winner["run_id"]
    assert loser["test_mse"] == winner["test_mse"]  # it did train
    assert len(run_keys(s3, "models/iris/")) == ONE_IRIS_RUN
    assert read_json(s3, "models/iris/latest.json") == latest_before


def test_newer_upload_adds_a_run_and_moves_latest_forward(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (first,) = handler.handle_event(event_for("incoming/iris.csv", sequencer="0A"), s3=s3, env={})
    s3.put_object(
        Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes + b"5.0,3.0,1.5,0.2,setosa\n"
    )
    (second,) = handler.handle_event(event_for("incoming/iris.csv", sequencer="0B"), s3=s3, env={})
    assert first["run_id"] != second["run_id"] and second["latest_moved"]
    assert read_json(s3, "models/iris/latest.json")["run_id"] == second["run_id"]


def test_late_event_for_an_older_version_does_not_move_latest_back(s3, iris_bytes):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes + b"\n")[
        "VersionId"
    ]
    newer_event = event_for("incoming/iris.csv", versionId=new, sequencer="006B1C2D3E4F5A6B7C")
    older_event = event_for("incoming/iris.csv", versionId=old, sequencer="006B1C2D3E4F5A6B70")
    (newer,) = handler.handle_event(newer_event, s3=s3, env={})
    (older,) = handler.handle_event(older_event, s3=s3, env={})
    assert older["status"] == "succeeded" and older["latest_moved"] is False
    assert read_json(s3, "models/iris/latest.json")["run_id"] == newer["run_id"]


def test_lambda_handler_emits_metrics_and_logs_the_request_and_key(
    s3, notifications, iris_bytes, capsys, monkeypatch
):
    handler.forget_clients()
    # The log handler kept the stdout of import time; point it at this test's capture.
    monkeypatch.setattr(handler.logger.registered_handler, "stream", sys.stdout)
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (event,) = notifications()
    context = type("Context", (), {"aws_request_id": "req-123"})()
    handler.lambda_handler(event, context)
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    emf = next(line for line in lines if "_aws" in line)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Linreg"
    assert emf["RowsTrained"] == [150] and emf["RunsSucceeded"] == [1]
    logs = [line for line in lines if line.get("message") == "published"]
    assert logs and logs[0]["request_id"] == "req-123"
    assert logs[0]["input_key"] == "incoming/iris.csv"


def test_settings_given_with_the_upload_override_the_deployments(s3, iris_bytes):
    s3.put_object(
        Bucket=BUCKET,
        Key="incoming/iris.csv",
        Body=iris_bytes,
        Metadata={"iterations": "12", "seed": "4"},
    )
    env = {"LINREG_ITERATIONS": "7", "LINREG_LOSS": "mean"}
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    report = read_json(s3, outcome["prefix"] + "report.json")
    assert len(report["loss_history"]) == 12
    assert report["hyperparameters"]["seed"] == 4


@pytest.mark.slow
def test_upload_settings_enter_the_run_id(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (plain,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    s3.put_object(
        Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes, Metadata={"preset": "converged"}
    )
    (converged,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    assert converged["run_id"].split("-")[1] != plain["run_id"].split("-")[1]
    report = read_json(s3, converged["prefix"] + "report.json")
    assert report["hyperparameters"]["preset"] == "converged"
    assert report["stopped"] == "tolerance"


def test_invalid_upload_setting_is_a_failure_record(s3, iris_bytes):
    s3.put_object(
        Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes, Metadata={"tolerance": "lots"}
    )
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    assert outcome["code"] == "invalid_hyperparameters"
    assert "tolerance" in outcome["message"]
    assert read_json(s3, outcome["failure_key"])["settings"] == {"tolerance": "lots"}


class GatedS3:
    """The moto client, whose first ``parties`` get_object calls each wait until all of them
    are in flight (calls made one after another break the barrier instead); it keeps each
    body it hands out, to tell whether the handler closed it."""

    def __init__(self, client, parties: int) -> None:
        self._client, self._calls = client, itertools.count()
        self.barrier = threading.Barrier(parties, timeout=5)
        self.bodies: dict[str, SpiedBody] = {}

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        if next(self._calls) < self.barrier.parties:
            self.barrier.wait()
        response = self._client.get_object(**kwargs)
        response["Body"] = self.bodies[kwargs["Key"]] = SpiedBody(response["Body"])
        return response


class SpiedBody:
    def __init__(self, stream) -> None:
        self.stream, self.closed = stream, False

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def close(self) -> None:
        self.closed = True
        self.stream.close()


def test_the_upload_is_fetched_together_with_the_duplicate_checks(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    gated = GatedS3(s3, parties=3)  # this run's report, its failure record, the upload
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=gated, env={})
    assert outcome["status"] == "succeeded"
    assert gated.bodies["incoming/iris.csv"].closed


def test_a_duplicate_delivery_closes_the_upload_it_began_to_fetch(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    gated = GatedS3(s3, parties=3)
    (again,) = handler.handle_event(event_for("incoming/iris.csv"), s3=gated, env={})
    assert again["duplicate"]
    assert gated.bodies["incoming/iris.csv"].closed


@pytest.mark.parametrize(
    "key",
    [
        "incoming/../models/x.csv",
        "incoming/a//b.csv",
        "incoming/bell\x07.csv",
        f"incoming/{'x' * 1000}.csv",
    ],
)
@pytest.mark.slow
def test_an_unusable_upload_name_is_recorded_where_its_record_can_be_written(s3, iris_bytes, key):
    s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)

    (outcome,) = handler.handle_event(event_for(key), s3=s3, env={})

    assert outcome["code"] == "bad_key"
    assert outcome["failure_key"].startswith("failures/unusable-keys/")
    assert keys(s3, "failures/") == [outcome["failure_key"]] and run_keys(s3) == []
    assert read_json(s3, outcome["failure_key"])["input"]["key"] == key


class BadRequestS3:
    """HEAD answers 400 with no reason, as S3 does; a GET gives S3's reason (``said``:
    code and message), or succeeds when ``said`` is ``None``."""

    def __init__(self, client, said: tuple[str, str] | None) -> None:
        self._client, self._said = client, said

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def head_object(self, **kwargs):
        raise _client_error("400", "Bad Request", "HeadObject")

    def get_object(self, **kwargs):
        if self._said is None:
            return self._client.get_object(**kwargs)
        raise _client_error(*self._said, "GetObject")


def _client_error(code: str, message: str, operation: str) -> ClientError:
    error = {"Error": {"Code": code, "Message": message}}
    return ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


# What S3 says to a GET of an SSE-C object without its key.
SSE_C = (
    "InvalidRequest",
    "The object was stored using a form of Server Side Encryption. The correct parameters "
    "must be provided to retrieve the object.",
)


def test_an_upload_encrypted_with_a_customer_key_is_recorded_not_retried(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    (outcome,) = handler.handle_event(
        event_for("incoming/iris.csv"), s3=BadRequestS3(s3, SSE_C), env={}
    )

    assert outcome["code"] == "input_unreadable" and "SSE-C" in outcome["message"]
    assert keys(s3, "failures/") == [outcome["failure_key"]]


def test_a_bad_request_is_reported_in_s3s_words(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    said = ("InvalidArgument", "Invalid version id specified")

    (outcome,) = handler.handle_event(
        event_for("incoming/iris.csv", versionId="not-a-version"),
        s3=BadRequestS3(s3, said),
        env={},
    )

    assert outcome["code"] == "input_unreadable"
    assert "InvalidArgument" in outcome["message"] and "Invalid version id" in outcome["message"]
    assert "SSE-C" not in outcome["message"]


def test_a_bad_request_to_head_alone_is_retried(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    with pytest.raises(ClientError):
        handler.handle_event(event_for("incoming/iris.csv"), s3=BadRequestS3(s3, None), env={})
    assert keys(s3, "failures/") == []


def test_a_long_run_keeps_report_json_small_and_its_whole_curve_beside_it(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    (outcome,) = handler.handle_event(
        event_for("incoming/iris.csv"), s3=s3, env={"LINREG_ITERATIONS": "5000"}
    )

    report = read_json(s3, outcome["prefix"] + "report.json")
    whole = read_json(s3, outcome["prefix"] + "loss_history.json")
    assert len(report["loss_history"]) == 1000 and len(whole["loss_history"]) == 5000
    assert report["loss_history_iterations"][0] == 1
    assert report["loss_history_iterations"][-1] == 5000
    assert report["loss_history"][-1] == whole["loss_history"][-1]


def test_a_short_run_has_its_whole_curve_in_the_report_and_no_extra_file(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})

    report = read_json(s3, outcome["prefix"] + "report.json")
    assert len(report["loss_history"]) == 100 and "loss_history_file" not in report
    assert outcome["prefix"] + "loss_history.json" not in keys(s3)


def wrapped(kind: str, s3_event: dict) -> dict:
    """``s3_event`` as SQS or SNS hand it on."""
    if kind == "sqs":
        return {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(s3_event)}]}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(s3_event)}}]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqs", "sns"])
def test_an_s3_event_wrapped_by_a_queue_or_topic_trains(s3, iris_bytes, kind):
    s3.put_object(Bucket=BUCKET, Key="incoming/lab/a b.csv", Body=iris_bytes)

    (outcome,) = handler.handle_event(
        wrapped(kind, event_for("incoming/lab/a b.csv")), s3=s3, env={}
    )

    assert outcome["status"] == "succeeded" and outcome["key"] == "incoming/lab/a b.csv"


def test_the_test_event_s3_sends_to_a_queue_is_ignored(s3):
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    assert handler.handle_event(wrapped("sqs", test_event), s3=s3, env={}) == []


def test_eventbridges_object_created_event_trains_its_unencoded_key(s3, iris_bytes):
    key = "incoming/lab/a+b c.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": "2026-11-29T12:00:00Z",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 3858}},
    }

    (outcome,) = handler.handle_event(event, s3=s3, env={})

    assert outcome["status"] == "succeeded" and outcome["key"] == key


def test_a_megabyte_bad_cell_keeps_the_record_and_the_response_small(s3, iris_bytes):
    lines = iris_bytes.splitlines(keepends=True)
    lines[3] = b"5.0,3.1,1.4,0.2," + b"s" * 1_000_000 + b"\n"
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=b"".join(lines))

    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})

    assert outcome["code"] == "unknown_species" and "(1,000,000 characters)" in outcome["message"]
    assert len(json.dumps(outcome)) < 1000
    record = s3.get_object(Bucket=BUCKET, Key=outcome["failure_key"])["Body"].read()
    assert len(record) < 5000


def test_a_plain_upload_named_like_a_compressed_one_does_not_share_its_model(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/a.csv.gz", Body=gzip.compress(iris_bytes))
    s3.put_object(Bucket=BUCKET, Key="incoming/a.gz.csv", Body=iris_bytes)

    (compressed,) = handler.handle_event(event_for("incoming/a.csv.gz"), s3=s3, env={})
    (plain,) = handler.handle_event(event_for("incoming/a.gz.csv"), s3=s3, env={})

    assert compressed["status"] == "succeeded" and plain["code"] == "bad_key"
    assert read_json(s3, "models/a.gz/latest.json")["input"]["key"] == "incoming/a.csv.gz"


@pytest.mark.slow
def test_a_name_in_decomposed_form_trains_the_composed_names_model(s3, iris_bytes):
    for key in ("incoming/caf\u00e9.csv", "incoming/cafe\u0301.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)
        (outcome,) = handler.handle_event(event_for(key), s3=s3, env={})
        assert outcome["prefix"].startswith("models/caf\u00e9/")

    assert {key.split("/")[1] for key in run_keys(s3)} == {"caf\u00e9"}


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\x85", "\x9b"])
def test_a_name_with_a_hidden_character_is_quarantined(s3, iris_bytes, hidden):
    key = f"incoming/ir{hidden}is.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=iris_bytes)

    (outcome,) = handler.handle_event(event_for(key), s3=s3, env={})

    assert outcome["code"] == "bad_key" and run_keys(s3) == []
    assert outcome["failure_key"].startswith("failures/unusable-keys/")
