"""The cost of a run: GB-seconds as Lambda bills them and the price table, and what a run
through the handler reports."""

import time

import pytest

from helpers import BUCKET, event_for, read_json
from linreg import handler
from linreg.cost import PRICE_TABLE, Meter


def test_cost_is_memory_times_duration_rounded_up_to_the_millisecond():
    cost = Meter(memory_mb=1024).cost(seconds=1.0004)

    assert cost["billed_seconds"] == 1.001 and cost["gb_seconds"] == pytest.approx(1.001)
    assert cost["usd"] == pytest.approx(1.001 * 0.0000166667 + 0.0000002)


def test_state_transitions_and_requests_are_priced():
    cost = Meter(memory_mb=1024).cost(seconds=0, requests=5, transitions=9)

    assert cost["usd"] == pytest.approx(5 * 0.0000002 + 9 * 0.000025)


def test_the_meter_follows_the_functions_memory_and_architecture():
    meter = Meter.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"}, machine="aarch64")

    assert meter.memory_mb == 3008 and meter.architecture == "arm64"
    assert meter.prices == PRICE_TABLE["arm64"]


def test_without_lambdas_memory_a_run_is_estimated_at_the_stacks_default():
    assert Meter.from_env({}, machine="x86_64").memory_mb == 2048


def test_the_deployment_may_set_its_own_prices():
    env = {"LINREG_PRICE_PER_GB_SECOND": "0.00002", "LINREG_PRICE_PER_TRANSITION": "0"}
    meter = Meter.from_env(env, machine="x86_64")

    assert meter.prices.gb_second == 0.00002 and meter.prices.transition == 0
    assert meter.prices.request == PRICE_TABLE["x86_64"].request
    assert meter.cost(seconds=1)["prices"]["source"] == "the deployment's prices"


@pytest.mark.parametrize("text", ["-1", "free", "nan", "inf"])
def test_a_bad_price_is_refused(text):
    with pytest.raises(ValueError, match="LINREG_PRICE_PER_REQUEST"):
        Meter.from_env({"LINREG_PRICE_PER_REQUEST": text})


def test_a_runs_cost_covers_its_measured_work_and_no_more(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}

    started = time.perf_counter()
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env=env)
    elapsed = time.perf_counter() - started

    report = read_json(s3, outcome["prefix"] + "report.json")
    cost = report["cost"]
    assert sum(report["timings"].values()) <= cost["billed_seconds"] <= elapsed + 0.001
    assert cost["memory_mb"] == 1024 and cost["gb_seconds"] == cost["billed_seconds"]
    assert cost["requests"] == 1 and cost["state_transitions"] == 0
    assert cost["usd"] == pytest.approx(
        cost["gb_seconds"] * cost["prices"]["per_gb_second"] + cost["prices"]["per_request"]
    )


def test_the_report_page_and_the_models_page_show_the_cost(s3, iris_bytes):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})
    usd = read_json(s3, outcome["prefix"] + "report.json")["cost"]["usd"]

    def page(key: str) -> str:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()

    assert "<h2>Cost</h2>" in page(outcome["prefix"] + "report.html")
    assert f"${usd:.6f}" in page(outcome["prefix"] + "report.html")
    assert f">{usd:.6f}</td>" in page("models/iris/index.html")


def test_a_failure_record_says_what_its_delivery_cost(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=b"not,a,csv\n")
    (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=s3, env={})

    assert read_json(s3, outcome["failure_key"])["cost"]["billed_seconds"] > 0
