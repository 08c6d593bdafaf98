"""Using published models: `linreg predict` and `linreg runs`."""

import csv
import io
import json

import numpy as np
import pytest

from corpus import CORPUS_DIR
from helpers import BUCKET, IRIS_CSV, ROOT, event_for
from linreg import handler, pipeline
from linreg.cli import main
from linreg.config import Hyperparameters
from linreg.errors import InputError
from linreg.service.published import load_params
from linreg.spec import IRIS
from linreg.training.data import load_bytes


def predictions(path) -> np.ndarray:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return np.array([float(row["predicted_sepal_length"]) for row in rows])


def test_predict_reproduces_the_training_codes_own_predictions(tmp_path, iris_bytes):
    # Converged: trained on standardized features, so this also checks the saved scaling.
    assert (
        main(["train", str(IRIS_CSV), "--out", str(tmp_path / "run"), "--preset", "converged"]) == 0
    )
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(tmp_path / "run"), str(IRIS_CSV), "--out", str(out)]) == 0

    report = json.loads((tmp_path / "run" / "report.json").read_text())
    scaling = report["standardization"]
    rows = load_bytes(iris_bytes).rows
    X = rows.X  # every row, in file order
    mean = np.array([scaling["mean"][name] for name in IRIS.features])
    scale = np.array([scaling["scale"][name] for name in IRIS.features])
    weights = np.array([scaling["weights"][name] for name in IRIS.features])
    expected = ((X - mean) / scale) @ weights + scaling["bias"]
    np.testing.assert_allclose(predictions(out), expected, rtol=1e-10)


def test_predict_needs_no_target_column(tmp_path):
    main(["train", str(IRIS_CSV), "--out", str(tmp_path / "run")])
    lines = IRIS_CSV.read_text().splitlines()
    no_target = tmp_path / "new.csv"
    no_target.write_text("\n".join(",".join(line.split(",")[1:]) for line in lines) + "\n")
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(tmp_path / "run"), str(no_target), "--out", str(out)]) == 0
    assert len(predictions(out)) == 150


def test_predict_on_a_bad_row_exits_2_and_names_the_line(tmp_path, capsys):
    main(["train", str(IRIS_CSV), "--out", str(tmp_path / "run")])
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sepal_width,petal_length,petal_width,iris\n3.0,1.4,0.2,setosa\n3.1,x,0.2,setosa\n"
    )
    assert main(["predict", str(tmp_path / "run"), str(bad), "--out", str(tmp_path / "p.csv")]) == 2
    assert "line 3" in capsys.readouterr().err


def test_predict_refuses_a_row_with_an_extra_field_as_training_does(tmp_path, capsys):
    main(["train", str(IRIS_CSV), "--out", str(tmp_path / "run")])
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes(b"sepal_width,petal_length,petal_width,iris\n3.5,1.4,0.2,setosa,9\n")

    assert (
        main(["predict", str(tmp_path / "run"), str(ragged), "--out", str(tmp_path / "p.csv")]) == 2
    )
    assert "[malformed_csv]" in capsys.readouterr().err and not (tmp_path / "p.csv").exists()


def test_predict_on_a_folder_without_a_model_exits_2(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(IRIS_CSV), "--out", str(tmp_path / "p.csv")]) == 2
    assert "[model_not_found]" in capsys.readouterr().err


def test_predict_reports_an_unknown_species_with_trainings_code(tmp_path, capsys):
    main(["train", str(IRIS_CSV), "--out", str(tmp_path / "run")])
    unknown = CORPUS_DIR / "unknown_species.csv"
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "run"), str(unknown), "--out", str(out)]) == 2
    assert "[unknown_species]" in capsys.readouterr().err


def test_predict_on_a_malformed_s3_address_exits_2_with_bad_model(tmp_path, capsys):
    assert main(["predict", "s3:/bad", str(IRIS_CSV), "--out", str(tmp_path / "p.csv")]) == 2
    assert "[bad_model]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "model",
    [
        "s3:/bad",
        "s3:bad/models/iris",
        "s3://",
        "s3:///x",
        "s3://Bad_Bucket/models/iris",
        "s3://ab/models/iris",
        "s3://-bucket/models/iris",
        "s3://my..bucket/models/iris",
        "s3://192.168.5.4/models/iris",
        "s3://user@bucket/models/iris",
    ],
)
def test_a_malformed_s3_address_is_a_bad_model_before_any_request(model):
    with pytest.raises(InputError) as caught:
        load_params(model, s3=None)
    assert caught.value.code == "bad_model"


@pytest.fixture
def published(s3, iris_bytes):
    """Two succeeded runs (tutorial, then converged) and a failed one of model "iris"."""
    event = json.loads((ROOT / "events" / "s3-put.json").read_text())
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    outcomes = []
    for body, metadata in [(iris_bytes, {}), (iris_bytes, {"preset": "converged"}), (b"", {})]:
        s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=body, Metadata=metadata)
        outcomes += handler.handle_event(event, s3=s3, env={})
    return outcomes


@pytest.mark.slow
def test_predict_from_s3_uses_the_latest_run(published, tmp_path, capsys):
    out = tmp_path / "p.csv"
    assert main(["predict", f"s3://{BUCKET}/models/iris", str(IRIS_CSV), "--out", str(out)]) == 0
    latest = pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters.for_preset("converged"))
    weights = np.array(list(latest.report["params"]["weights"].values()))
    expected = load_bytes(IRIS_CSV.read_bytes()).rows.X @ weights + latest.report["params"]["bias"]
    np.testing.assert_allclose(predictions(out), expected, rtol=1e-9)


def test_predict_from_s3_can_name_one_run(published, tmp_path):
    first = published[0]["prefix"].rstrip("/")
    out = tmp_path / "p.csv"
    assert main(["predict", f"s3://{BUCKET}/{first}", str(IRIS_CSV), "--out", str(out)]) == 0
    tutorial = pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters()).report["params"]
    assert predictions(out)[0] == pytest.approx(
        np.array(list(tutorial["weights"].values())) @ load_bytes(IRIS_CSV.read_bytes()).rows.X[0]
        + tutorial["bias"]
    )


def test_runs_lists_every_run_newest_first_with_status_and_preset(published, capsys):
    assert main(["runs", f"s3://{BUCKET}/models/iris"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == 3
    ids = [line.split()[0] for line in lines]
    assert ids == sorted(ids, reverse=True)
    assert any("converged" in line and "succeeded" in line for line in lines)
    assert any("failed" in line and "[empty_file]" in line for line in lines)


def test_runs_links_are_presigned_urls_to_each_report(published, capsys):
    main(["runs", f"s3://{BUCKET}/models/iris", "--links"])
    links = [line.strip() for line in capsys.readouterr().out.splitlines() if "://" in line]
    assert len(links) == 3 and all("X-Amz-Signature=" in link for link in links)


@pytest.fixture
def multi_segment_runs(s3, iris_bytes) -> list[dict]:
    """A succeeded and a failed run of "iris" under results/models/ and results/failures/."""
    env = {"MODELS_PREFIX": "results/models/", "FAILURES_PREFIX": "results/failures/"}
    outcomes = []
    for body in (iris_bytes, b""):
        s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=body)
        outcomes += handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    return outcomes


def test_runs_finds_runs_and_failures_under_multi_segment_prefixes(multi_segment_runs, capsys):
    outcomes = multi_segment_runs
    prefixes = ["--models-prefix", "results/models/", "--failures-prefix", "results/failures/"]

    assert main(["runs", f"s3://{BUCKET}/results/models/iris", *prefixes]) == 0

    lines = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[0] for line in lines) == sorted(o["run_id"] for o in outcomes)
    assert any("failed" in line and "[empty_file]" in line for line in lines)


def test_runs_finds_failures_by_name_when_the_models_prefix_is_not_given(
    multi_segment_runs, capsys
):
    outcomes = multi_segment_runs
    model = f"s3://{BUCKET}/results/models/iris"

    assert main(["runs", model, "--failures-prefix", "results/failures/"]) == 0

    lines = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[0] for line in lines) == sorted(o["run_id"] for o in outcomes)
