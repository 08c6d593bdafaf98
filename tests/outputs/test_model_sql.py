"""model.sql: the run's model as one SELECT, run here in SQLite (the standard library) over a
table of the CSV's columns, as a user would after importing the CSV, and held to `linreg
predict` to 1e-9."""

import csv
import io
import json
import sqlite3

import pytest

from helpers import IRIS_CSV, ROOT
from linreg import pipeline
from linreg.config import Hyperparameters
from linreg.outputs.model_sql import TABLE, render
from linreg.spec import spec_from_file
from linreg.training.predict import predict

DIABETES_CSV = ROOT / "data" / "diabetes.csv"


def sql_predictions(query: bytes, csv_bytes: bytes) -> list[float]:
    """``query`` over ``csv_bytes`` loaded as text columns, as SQLite's .import does."""
    rows = list(csv.reader(io.StringIO(csv_bytes.decode())))
    header, body = rows[0], rows[1:]
    with sqlite3.connect(":memory:") as db:
        columns = ", ".join('"' + name.replace('"', '""') + '" TEXT' for name in header)
        db.execute(f"CREATE TABLE {TABLE} ({columns})")
        db.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(header))})", body)
        cursor = db.execute(query.decode())
        names = [description[0] for description in cursor.description]
        return [row[names.index(names[-1])] for row in cursor.fetchall()]


def predicted(params: dict, csv_bytes: bytes) -> list[float]:
    lines = list(csv.DictReader(io.StringIO(predict(params, csv_bytes).decode())))
    return [float(line[f"predicted_{params['target']}"]) for line in lines]


def params_of(csv_bytes: bytes, **settings: str) -> dict:
    run = pipeline.run(csv_bytes, Hyperparameters.from_strings(settings))
    assert run.status == "succeeded"
    return json.loads(run.files["params.json"])


def test_the_query_in_sqlite_matches_linreg_predict_on_iris():
    data = IRIS_CSV.read_bytes()
    params = params_of(data)
    assert sql_predictions(render(params), data) == pytest.approx(predicted(params, data), abs=1e-9)


def test_a_standardized_model_needs_no_scaling_in_sql():
    data = IRIS_CSV.read_bytes()
    params = params_of(data, preset="converged")
    assert sql_predictions(render(params), data) == pytest.approx(predicted(params, data), abs=1e-9)


def test_the_query_matches_on_a_dataset_of_numbers_only():
    data = DIABETES_CSV.read_bytes()
    params = params_of(data, dataset="diabetes", preset="converged")
    assert sql_predictions(render(params), data) == pytest.approx(predicted(params, data), abs=1e-9)


def test_levels_are_read_as_training_reads_them():
    params = params_of(IRIS_CSV.read_bytes())
    plain = "sepal_length,sepal_width,petal_length,petal_width,iris\n5.1,3.5,1.4,0.2,setosa\n"
    written = (
        "sepal_length,sepal_width,petal_length,petal_width,iris\n5.1,3.5,1.4,0.2, Iris-SETOSA \n"
    )
    assert sql_predictions(render(params), written.encode()) == pytest.approx(
        sql_predictions(render(params), plain.encode()), abs=0
    )
    assert sql_predictions(render(params), written.encode()) == pytest.approx(
        predicted(params, written.encode()), abs=1e-9
    )


def test_names_that_need_quoting_stay_names(tmp_path):
    spec = {
        "name": "quoted",
        "target": 'y "in" m',
        "numeric": ["x's"],
        "categorical": {"kind": ["o'brien", 'say "hi"']},
    }
    (tmp_path / "quoted.json").write_text(json.dumps(spec))
    rows = [
        f"{i * 0.5},{i % 7},{'o' + chr(39) + 'brien' if i % 2 else 'say hi'}" for i in range(40)
    ]
    header = '"y ""in"" m","x\'s",kind\n'
    data = (header + "\n".join(r.replace("say hi", '"say ""hi"""') for r in rows) + "\n").encode()
    run = pipeline.run(data, Hyperparameters(), spec=spec_from_file(tmp_path / "quoted.json"))
    params = json.loads(run.files["params.json"])
    assert sql_predictions(render(params), data) == pytest.approx(predicted(params, data), abs=1e-9)


def test_a_succeeded_run_writes_its_model_sql():
    run = pipeline.run(IRIS_CSV.read_bytes(), Hyperparameters())
    assert run.files["model.sql"] == render(json.loads(run.files["params.json"]))
