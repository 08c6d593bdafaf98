"""Datasets other than iris: a spec names the target, numeric and categorical columns."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from helpers import BUCKET, DATA, IRIS_CSV, ROOT, event_for
from linreg import handler, pipeline
from linreg.cli import main
from linreg.config import Hyperparameters
from linreg.errors import InputError
from linreg.spec import DIABETES, IRIS, Spec, spec_from_file, spec_named
from linreg.training.data import load_bytes

DIABETES_CSV = ROOT / "data" / "diabetes.csv"


@pytest.fixture(scope="module")
def diabetes_bytes():
    return DIABETES_CSV.read_bytes()


def test_shipped_diabetes_is_scikit_learns_copy():
    from sklearn.datasets import load_diabetes

    reference = load_diabetes(scaled=False)
    shipped = pd.read_csv(DIABETES_CSV)
    np.testing.assert_array_equal(shipped[reference.feature_names].to_numpy(), reference.data)
    np.testing.assert_array_equal(shipped["target"], reference.target)


def test_diabetes_features_are_numeric_then_a_drop_one_indicator_for_sex():
    assert DIABETES.features[-1] == "i_1" and len(DIABETES.features) == 10


def test_closed_form_baseline_on_diabetes_matches_scikit_learn(diabetes_bytes):
    report = pipeline.run(diabetes_bytes, Hyperparameters(dataset="diabetes", iterations=1)).report
    frame = pd.read_csv(DIABETES_CSV)
    frame["i_1"] = (frame["sex"] == 1).astype(float)
    X, y = frame[list(DIABETES.features)], frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)
    fit = LinearRegression().fit(X_train, y_train)
    expected = np.mean((fit.predict(X_test) - y_test) ** 2)
    assert report["baseline_test_mse"] == pytest.approx(expected, rel=1e-9)


def test_converged_preset_reaches_the_optimum_on_diabetes(diabetes_bytes):
    report = pipeline.run(
        diabetes_bytes, Hyperparameters.for_preset("converged", dataset="diabetes")
    ).report
    assert abs(report["test_mse"] / report["baseline_test_mse"] - 1) < 0.005
    assert report["dataset"] == "diabetes"


def test_unknown_level_names_the_column_and_line(diabetes_bytes):
    lines = diabetes_bytes.decode().splitlines()
    lines[3] = (
        lines[3].replace(",2,", ",3,", 1)
        if ",2," in lines[3]
        else lines[3].replace(",1,", ",3,", 1)
    )
    with pytest.raises(InputError) as caught:
        load_bytes("\n".join(lines).encode(), spec=DIABETES)
    assert caught.value.code == "unknown_level"
    assert "column sex, line 4: '3'" in caught.value.message


def test_an_unknown_dataset_name_is_an_invalid_setting(iris_bytes):
    with pytest.raises(InputError) as caught:
        pipeline.run(iris_bytes, Hyperparameters(dataset="penguins"))
    assert caught.value.code == "invalid_hyperparameters"


def test_the_dataset_can_be_chosen_per_upload(s3, diabetes_bytes):
    s3.put_object(
        Bucket=BUCKET,
        Key="incoming/diabetes.csv",
        Body=diabetes_bytes,
        Metadata={"dataset": "diabetes", "preset": "converged"},
    )
    event = event_for("incoming/diabetes.csv")
    (outcome,) = handler.handle_event(event, s3=s3, env={})
    assert outcome["status"] == "succeeded"
    params = json.loads(
        s3.get_object(Bucket=BUCKET, Key=outcome["prefix"] + "params.json")["Body"].read()
    )
    assert params["target"] == "target" and params["dataset"]["name"] == "diabetes"


def test_cli_takes_a_json_dataset_description(tmp_path, capsys):
    spec = DATA / "specs" / "iris_sepal_width.json"
    out = tmp_path / "run"
    assert main(["train", str(IRIS_CSV), "--out", str(out), "--dataset", str(spec)]) == 0
    params = json.loads((out / "params.json").read_text())
    assert params["target"] == "sepal_width" and params["features"][0] == "sepal_length"


def test_predict_applies_a_diabetes_model_with_its_own_columns(tmp_path):
    out = tmp_path / "run"
    args = ["train", str(DIABETES_CSV), "--out", str(out), "--dataset", "diabetes"]
    assert main([*args, "--preset", "converged"]) == 0
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(out), str(DIABETES_CSV), "--out", str(predictions)]) == 0
    frame = pd.read_csv(predictions)
    residual = frame["predicted_target"] - frame["target"]
    report = json.loads((out / "report.json").read_text())
    whole = (report["train_mse"] * 309 + report["test_mse"] * 133) / 442
    assert np.mean(residual**2) == pytest.approx(whole, rel=1e-9)


def test_a_categorical_column_with_too_many_levels_is_refused():
    description = {
        "name": "wide",
        "target": "y",
        "numeric": ["x"],
        "categorical": {"group": [f"g{i}" for i in range(1001)]},
    }
    with pytest.raises(InputError) as caught:
        Spec.from_dict(description)
    assert caught.value.code == "bad_dataset" and "1001 levels" in caught.value.message


def test_an_unknown_dataset_name_is_quoted_as_an_excerpt():
    with pytest.raises(InputError) as caught:
        spec_named("d" * 100_000)
    assert len(caught.value.message) < 300 and "(100,000 characters)" in caught.value.message


def test_the_iris_description_is_the_built_in_iris_with_its_error_code():
    assert Spec.from_dict(IRIS.as_dict()).unknown_level_code == "unknown_species"


def test_a_dataset_file_that_cannot_be_read_is_an_unreadable_file(tmp_path):
    missing = tmp_path / "nonexist.json"
    with pytest.raises(InputError) as caught:
        spec_from_file(missing)
    assert caught.value.code == "unreadable_file"
    assert caught.value.message == f"cannot read {missing}: No such file or directory"


@pytest.mark.parametrize("text", ["{not json", '["a list"]', '{"name": "x"}'])
def test_a_dataset_file_that_is_not_a_description_is_a_bad_dataset(tmp_path, text):
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        spec_from_file(path)
    assert caught.value.code == "bad_dataset"
