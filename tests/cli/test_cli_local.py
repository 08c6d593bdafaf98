"""The local story of the command line: a bucket's local copy, uploads of one's own, and
every refusal as one line with a code."""

import json
import socket
import subprocess
import sys
import threading

import pytest

from helpers import BUCKET, IRIS_CSV, ROOT
from linreg.cli import EXIT_AWS, EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, main

S3_PUT = ROOT / "events" / "s3-put.json"
S3_PUT_PREDICT = ROOT / "events" / "s3-put-predict.json"


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", str(IRIS_CSV), "--out", "m", "--preset", "foo"],
        ["train", str(IRIS_CSV), "--out", "m", "--loss", "foo"],
        ["train", str(IRIS_CSV)],
        ["train", "--out", "m"],
        ["nonsense"],
    ],
)
def test_an_argument_error_is_one_line_with_bad_usage(argv, capsys):
    assert main(argv) == EXIT_BAD_INPUT
    line = one_error_line(capsys)
    assert line.startswith("error: linreg") and line.endswith("[bad_usage]")


def test_invoke_ignores_s3s_test_event(tmp_path, capsys):
    event = tmp_path / "test-event.json"
    event.write_text(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    assert main(["invoke", str(event)]) == 0
    assert "ignored" in capsys.readouterr().out


def test_part_bytes_without_distributed_above_is_refused(capsys):
    assert main(["invoke", str(S3_PUT), "--part-bytes", "4000000"]) == EXIT_BAD_INPUT
    assert one_error_line(capsys).endswith("[bad_usage]")


def test_overlapping_models_and_failures_prefixes_are_bad_prefix(capsys):
    argv = ["runs", "s3://b/models/iris", "--models-prefix", "models/"]
    assert main([*argv, "--failures-prefix", "models/f/"]) == EXIT_BAD_INPUT
    assert one_error_line(capsys).endswith("[bad_prefix]")


def test_invoke_key_and_metadata_train_an_upload_under_its_own_name(tmp_path, capsys):
    code = main(
        ["invoke", "--key", "incoming/diabetes.csv", "--data", str(ROOT / "data" / "diabetes.csv")]
        + ["--metadata", "dataset=diabetes,preset=converged", "--out", str(tmp_path)]
    )
    assert code == 0
    (run,) = (tmp_path / "models" / "diabetes").glob("2*")
    report = json.loads((run / "report.json").read_text())
    assert report["dataset"] == "diabetes"
    assert report["hyperparameters"]["preset"] == "converged"


def test_a_malformed_metadata_item_is_refused(capsys):
    assert main(["invoke", "--key", "incoming/a.csv", "--metadata", "preset"]) == EXIT_BAD_INPUT
    assert one_error_line(capsys).endswith("[bad_usage]")


@pytest.mark.slow
def test_invoke_out_keeps_the_runs_of_earlier_invocations(tmp_path, capsys):
    out = str(tmp_path / "copy")
    assert main(["invoke", str(S3_PUT), "--out", out]) == 0
    assert main(["invoke", "--key", "incoming/iris.csv", "--metadata", "seed=3", "--out", out]) == 0
    capsys.readouterr()
    assert main(["runs", f"{out}/models/iris"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sum(" succeeded " in line for line in listed) == 2


@pytest.mark.slow
def test_predict_reads_the_latest_run_of_a_local_copy(tmp_path, capsys):
    out = tmp_path / "copy"
    assert main(["invoke", str(S3_PUT), "--out", str(out)]) == 0
    predictions = tmp_path / "p.csv"
    assert (
        main(["predict", str(out / "models" / "iris"), str(IRIS_CSV), "--out", str(predictions)])
        == 0
    )
    assert predictions.read_text().splitlines()[0].endswith("predicted_sepal_length")


@pytest.mark.slow
def test_invoke_scores_a_predict_event_with_the_model_a_training_event_made(tmp_path, capsys):
    out = tmp_path / "copy"
    assert main(["invoke", str(S3_PUT), "--out", str(out)]) == 0
    capsys.readouterr()

    assert main(["invoke", str(S3_PUT_PREDICT), "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "predict/iris/iris.csv: succeeded" in printed and "scored     150 rows" in printed
    header = (out / "predictions" / "iris" / "iris.csv").read_text().splitlines()[0]
    assert header.endswith(",predicted_sepal_length")


def test_invoke_of_a_predict_event_with_no_model_says_to_train_first(tmp_path, capsys):
    assert main(["invoke", str(S3_PUT_PREDICT), "--out", str(tmp_path)]) == 1

    printed = capsys.readouterr().out
    assert "error [model_not_found]" in printed and "train it first" in printed


@pytest.mark.slow
def test_runs_html_of_a_local_copy_links_its_files(tmp_path, capsys):
    out = tmp_path / "copy"
    assert main(["invoke", str(S3_PUT), "--out", str(out)]) == 0
    page = tmp_path / "page.html"
    assert main(["runs", str(out / "models" / "iris"), "--html", str(page)]) == 0
    assert (out / "models" / "iris").resolve().as_uri() in page.read_text()


def test_runs_outside_a_local_copy_is_bad_model(tmp_path, capsys):
    assert main(["runs", str(tmp_path)]) == EXIT_BAD_INPUT
    assert one_error_line(capsys).endswith("[bad_model]")


def test_a_missing_bucket_is_one_line_and_exit_4(capsys):
    from linreg.local.embedded_s3 import embedded_s3

    with embedded_s3():
        assert main(["runs", "s3://no-such-bucket/models/iris"]) == EXIT_AWS
    line = one_error_line(capsys)
    assert "NoSuchBucket" in line and line.endswith("[s3_refused]")


def test_a_closed_port_is_one_line_and_exit_4(capsys, monkeypatch):
    from linreg.local.embedded_s3 import FAKE_AWS

    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["runs", "s3://bucket/models/iris"]) == EXIT_AWS
    assert one_error_line(capsys).endswith("[s3_unreachable]")


@pytest.mark.slow
def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    train = [sys.executable, "-m", "linreg", "train", str(IRIS_CSV), "--out", str(tmp_path)]
    listing = subprocess.run(
        f"{' '.join(train)} --iterations 3000 --verbose | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listing.stdout.startswith("iteration 1,")
    assert "Traceback" not in listing.stderr and "BrokenPipe" not in listing.stderr
    assert EXIT_BROKEN_PIPE == 141


def test_the_divergence_hint_names_what_works(tmp_path, capsys):
    code = main(
        ["train", str(ROOT / "data" / "diabetes.csv"), "--dataset", "diabetes"]
        + ["--out", str(tmp_path)]
    )
    assert code == 3
    assert "preset converged" in capsys.readouterr().err


def test_the_skip_reason_names_every_suffix_trained_on(capsys):
    assert main(["invoke", str(ROOT / "events" / "s3-put-multiple.json")]) == 0
    assert "*.csv.gz" in capsys.readouterr().out


@pytest.mark.slow
def test_params_nd_opens_with_the_documented_one_line_import(tmp_path):
    assert main(["train", str(IRIS_CSV), "--out", str(tmp_path)]) == 0
    opened = f"load_nd('{tmp_path / 'params.nd'}')['w'].shape"
    line = f"from linreg.training.model import load_nd; print({opened})"
    shown = subprocess.run(
        [sys.executable, "-c", line], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == "(5, 1)"


@pytest.mark.slow
def test_a_manifest_naming_no_parts_reports_its_failure_record(tmp_path, capsys):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"prefix": "incoming/nothing/"}))
    code = main(
        ["invoke", "--key", "incoming/x.manifest.json", "--data", str(manifest)]
        + ["--distributed-above", "1000000"]
    )
    assert code == 1
    assert "error [bad_manifest]" in capsys.readouterr().out


def test_no_credentials_is_one_line_and_exit_4(tmp_path):
    done = run_in_clean_aws_env(tmp_path)
    assert done.returncode == EXIT_AWS
    assert done.stderr.strip().endswith("[no_credentials]")
    assert len(done.stderr.strip().splitlines()) == 1


def run_in_clean_aws_env(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """``linreg runs`` on a bucket, with no AWS settings but the ones given."""
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1"}
    clean["AWS_EC2_METADATA_DISABLED"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "linreg", "runs", "s3://bucket/models/iris"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_half_a_key_pair_is_one_line_and_exit_4(tmp_path):
    done = run_in_clean_aws_env(tmp_path, AWS_ACCESS_KEY_ID="AKIAEXAMPLE")
    assert done.returncode == EXIT_AWS
    assert done.stderr.strip().endswith("[no_credentials]")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_profile_is_one_line_and_exit_4(tmp_path):
    done = run_in_clean_aws_env(tmp_path, AWS_PROFILE="nobody")
    assert done.returncode == EXIT_AWS
    assert "nobody" in done.stderr and done.stderr.strip().endswith("[no_credentials]")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_server_that_hangs_up_is_one_line_and_exit_4(capsys, monkeypatch):
    from linreg.local.embedded_s3 import FAKE_AWS

    with socket.create_server(("127.0.0.1", 0)) as server:
        hang_up = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
        hang_up.start()
        for name, value in FAKE_AWS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        assert main(["runs", "s3://bucket/models/iris"]) == EXIT_AWS
    assert one_error_line(capsys).endswith("[s3_unreachable]")


@pytest.mark.slow
def test_a_run_of_more_than_a_listing_page_is_saved_whole(s3, tmp_path):
    from linreg.local.invoke import download_run

    prefix = "models/big/run/"
    # A distributed run's part files: more than one page of a listing (1,000 keys).
    names = [f"parts/part-{index:05d}.json" for index in range(1001)] + ["report.json"]
    for name in names:
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"{}")
    outcome = {"bucket": BUCKET, "key": "incoming/big.csv", "prefix": prefix}
    download_run(s3, outcome, tmp_path)
    saved = sorted(p.relative_to(tmp_path / prefix) for p in tmp_path.rglob("*.json"))
    assert [str(path) for path in saved] == sorted(names)


WITHOUT_MOTO = ROOT / "tests" / "without_moto.py"


@pytest.mark.slow
def test_the_handler_imports_without_moto():
    done = subprocess.run(
        [sys.executable, str(WITHOUT_MOTO), "-c", "import linreg.handler, linreg.cli"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_invoke_without_moto_names_the_extra_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(WITHOUT_MOTO), "-m", "linreg", "invoke", str(S3_PUT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.strip().endswith("[needs_local_extra]")
    assert "linreg[local]" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_invoke_puts_the_completion_event_locally_and_saves_its_claim(tmp_path, capsys):
    assert main(["invoke", str(S3_PUT), "--out", str(tmp_path)]) == 0

    (claim,) = (tmp_path / "models" / "iris").glob("*/event.json")
    detail = json.loads(claim.read_text())
    assert detail["status"] == "succeeded" and detail["model"] == "iris"
    assert "event.json" in capsys.readouterr().out


def test_invoke_saves_a_failed_runs_event_claim_beside_its_record(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"not,an,iris\n1,2,3\n")
    out = tmp_path / "out"
    argv = ["invoke", "--key", "incoming/bad.csv", "--data", str(bad), "--out", str(out)]

    assert main(argv) != 0

    (claim,) = (out / "failures" / "bad").glob("*.event.json")
    assert json.loads(claim.read_text())["status"] == "failed"
