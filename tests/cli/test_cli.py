"""The command line as people use it: `train` in-process, `invoke` as a real process."""

import json
import subprocess
import sys

import pytest

from corpus import CORPUS_DIR, FAILING
from helpers import DATA, IRIS_CSV, ROOT, iris_like
from linreg.cli import main

# The S3 events that train (run-finished.json is what the function puts on EventBridge;
# s3-put-predict.json scores with a model trained first).
EVENTS = sorted(
    set((ROOT / "events").glob("s3-*.json")) - {ROOT / "events" / "s3-put-predict.json"}
)


def train(tmp_path, *options) -> tuple[int, dict]:
    out = tmp_path / "out"
    code = main(["train", str(IRIS_CSV), "--out", str(out), *options])
    report = json.loads((out / "report.json").read_text()) if out.exists() else None
    return code, report


def test_train_writes_the_model_files_and_prints_test_mse(tmp_path, capsys):
    code, report = train(tmp_path)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "loss.png",
        "model.sql",
        "params.json",
        "params.nd",
        "report.html",
        "report.json",
    ]
    assert f"test MSE {report['test_mse']:.4f}" in capsys.readouterr().out
    assert report["baseline_test_mse"] == pytest.approx(0.1312, abs=0.001)
    assert len(report["loss_history"]) == 100


def test_train_twice_gives_identical_loss_history(tmp_path):
    _, first = train(tmp_path / "a")
    _, second = train(tmp_path / "b")
    assert first["loss_history"] == second["loss_history"]


def test_train_options_reach_the_report(tmp_path):
    _, report = train(tmp_path, "--iterations", "12", "--seed", "5", "--learning-rate", "0.02")
    assert len(report["loss_history"]) == 12
    assert report["hyperparameters"]["seed"] == 5
    assert report["hyperparameters"]["learning_rate"] == 0.02


def test_verbose_prints_every_iteration(tmp_path, capsys):
    train(tmp_path, "--iterations", "4", "--verbose")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("iteration")]
    assert len(lines) == 4


@pytest.mark.parametrize(("name", "code", "words"), FAILING, ids=[c[0] for c in FAILING])
def test_bad_csv_exits_2_with_one_error_line_and_writes_nothing(
    tmp_path, capsys, name, code, words
):
    out = tmp_path / "out"
    exit_code = main(["train", str(CORPUS_DIR / name), "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"[{code}]" in err
    assert not out.exists()


def test_invalid_hyperparameter_exits_2(tmp_path, capsys):
    code, report = train(tmp_path, "--iterations", "0")
    assert code == 2 and report is None
    assert "iterations" in capsys.readouterr().err


def test_missing_csv_exits_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_diverged_training_exits_3_with_report_only(tmp_path, capsys):
    code, report = train(tmp_path, "--loss", "sum", "--learning-rate", "1.0")
    assert code == 3
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.json"]
    assert report["status"] == "diverged"
    assert "diverged" in capsys.readouterr().err


def test_diverged_run_removes_an_older_model_from_the_folder(tmp_path):
    train(tmp_path)
    train(tmp_path, "--loss", "sum", "--learning-rate", "1.0")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.json"]


def test_a_shorter_run_removes_an_older_runs_loss_history(tmp_path):
    # Past the curve report.json holds, a run writes loss_history.json beside it.
    train(tmp_path, "--iterations", "1500")
    assert (tmp_path / "out" / "loss_history.json").exists()
    train(tmp_path)
    assert not (tmp_path / "out" / "loss_history.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("event", EVENTS, ids=[e.name for e in EVENTS])
def test_invoke_runs_each_sample_event_against_embedded_s3(event, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "linreg", "invoke", str(event), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(event.read_text())["Records"]
    trained = [r for r in records if r["s3"]["object"]["key"].endswith(".csv")]
    assert result.stdout.count(": succeeded") == len(trained)
    reports = list(tmp_path.glob("models/**/report.json"))
    assert len(reports) == len(trained)
    assert all(json.loads(r.read_text())["status"] == "succeeded" for r in reports)
    # Each model's page is saved beside its runs, and its links reach them there.
    for report in reports:
        page = (report.parent.parent / "index.html").read_text()
        assert f'href="{report.parent.name}/report.html"' in page


@pytest.mark.slow
def test_invoke_can_train_a_large_upload_in_parts_as_the_state_machine_would(tmp_path, capsys):
    big = tmp_path / "big.csv"
    big.write_bytes(iris_like(60_000))
    event = str(ROOT / "events" / "s3-put.json")
    options = ["--distributed-above", "100000", "--part-bytes", "400000"]

    assert main(["invoke", event, "--data", str(big), *options]) == 0

    out = capsys.readouterr().out
    assert "succeeded" in out and "distributed, in 4 parts" in out
    assert "rows       60000" in out


def test_invoke_escapes_terminal_sequences_from_the_key(capsys):
    event = DATA / "events" / "s3-put-terminal-escapes-in-key.json"

    main(["invoke", str(event)])

    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "bad_key" in out


def test_invoke_skips_malformed_records_with_their_reason(capsys):
    event = DATA / "events" / "s3-put-malformed-records.json"

    assert main(["invoke", str(event)]) == 0

    out = capsys.readouterr().out
    assert out.count(": skipped") == 3
    assert "eventTime" in out and "s3.object.key" in out
