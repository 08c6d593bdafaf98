"""The training function: image, size, environment, recursion guard and logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from linreg import cost
from linreg.contract import (
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_MEMORY_MB,
    EVENT_BUS_ENV,
    MAX_ITERATIONS_ENV,
    PRICE_PER_GB_SECOND_ENV,
    PRICE_PER_REQUEST_ENV,
    PRICE_PER_TRANSITION_ENV,
    PROMOTION_ENV,
    UPLOAD_SETTINGS_ENV,
)
from linreg_infra import settings_parsers
from linreg_infra.function import ARCHITECTURES, omp_threads_for
from template import function_environment, function_id, of_type


def test_function_is_an_x86_64_container_image(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "Architectures": ["x86_64"]}
    )


def test_image_is_built_for_the_functions_platform(stack) -> None:
    assembly = stack.node.root.synth()
    (artifact,) = assembly.stacks
    manifest = Path(artifact.template_full_path.replace(".template.", ".assets."))
    (image,) = json.loads(manifest.read_text())["dockerImages"].values()

    assert image["source"]["platform"] == "linux/amd64"


def test_every_architecture_setting_has_a_function_and_an_image_platform() -> None:
    assert set(ARCHITECTURES) == set(settings_parsers.ARCHITECTURES)


def test_function_defaults_to_measured_memory_and_five_minutes(resources: dict) -> None:
    properties = resources[function_id(resources)]["Properties"]

    assert (properties["MemorySize"], properties["Timeout"]) == (2048, 300)
    assert "ReservedConcurrentExecutions" not in properties
    # The runtime estimates a local run's cost at the same size.
    assert properties["MemorySize"] == DEFAULT_MEMORY_MB


def test_function_size_and_concurrency_follow_the_context(configured_resources: dict) -> None:
    properties = configured_resources[function_id(configured_resources)]["Properties"]

    assert properties["MemorySize"] == 3538
    assert properties["Timeout"] == 600
    assert properties["ReservedConcurrentExecutions"] == 3


# --- the environment ----------------------------------------------------------------------


def test_function_environment_names_the_bucket_layout(resources: dict) -> None:
    environment = function_environment(resources)

    assert environment["INCOMING_PREFIX"] == "incoming/"
    assert environment["MODELS_PREFIX"] == "models/"
    assert environment["FAILURES_PREFIX"] == "failures/"
    assert environment["PREDICT_PREFIX"] == "predict/"
    assert environment["PREDICTIONS_PREFIX"] == "predictions/"


def test_function_environment_gives_openmp_the_whole_vcpus_of_its_memory(
    resources: dict,
) -> None:
    assert function_environment(resources)["OMP_NUM_THREADS"] == str(omp_threads_for(2048))


def test_function_environment_keeps_numpy_blas_on_one_thread(resources: dict) -> None:
    assert function_environment(resources)["OPENBLAS_NUM_THREADS"] == "1"


def test_function_environment_sets_powertools_service_namespace_and_level(
    resources: dict,
) -> None:
    environment = function_environment(resources)

    assert environment["POWERTOOLS_SERVICE_NAME"] == "linreg"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Linreg"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_hyperparameters_are_empty_so_the_library_defaults_apply(resources: dict) -> None:
    environment = function_environment(resources)
    names = (
        "LINREG_DATASET",
        "LINREG_PRESET",
        "LINREG_LEARNING_RATE",
        "LINREG_ITERATIONS",
        "LINREG_SEED",
        "LINREG_LOSS",
        "LINREG_ENGINE",
        "LINREG_TOLERANCE",
        "LINREG_TEST_SIZE",
        "LINREG_MAX_INPUT_BYTES",
    )

    assert {name: environment[name] for name in names} == dict.fromkeys(names, "")


def test_configured_hyperparameters_and_prefixes_reach_the_environment(
    configured_resources: dict,
) -> None:
    environment = function_environment(configured_resources)

    assert environment["LINREG_LEARNING_RATE"] == "0.05"
    assert environment["LINREG_ITERATIONS"] == "500"
    assert environment["LINREG_SEED"] == "7"
    assert environment["LINREG_LOSS"] == "sum"
    assert environment["INCOMING_PREFIX"] == "uploads/"
    assert environment["MODELS_PREFIX"] == "results/models/"
    assert environment["FAILURES_PREFIX"] == "results/failures/"
    assert environment["PREDICT_PREFIX"] == "to-score/"
    assert environment["PREDICTIONS_PREFIX"] == "results/predictions/"


def test_configured_dataset_preset_engine_and_limits_reach_the_environment(
    configured_resources: dict,
) -> None:
    environment = function_environment(configured_resources)

    assert environment["LINREG_DATASET"] == "diabetes"
    assert environment["LINREG_PRESET"] == "converged"
    assert environment["LINREG_ENGINE"] == "tutorial"
    assert environment["LINREG_TOLERANCE"] == "1e-05"
    assert environment["LINREG_TEST_SIZE"] == "0.25"
    assert environment["LINREG_MAX_INPUT_BYTES"] == "1048576"


def test_operator_limits_default_to_the_contracts_iterations_and_all_upload_settings(
    resources: dict,
) -> None:
    # Always present: an empty upload-settings value means every setting.
    environment = function_environment(resources)

    assert environment[MAX_ITERATIONS_ENV] == str(DEFAULT_MAX_ITERATIONS)
    assert environment[UPLOAD_SETTINGS_ENV] == ""


def test_operator_limits_follow_the_context(configured_resources: dict) -> None:
    environment = function_environment(configured_resources)

    assert environment[MAX_ITERATIONS_ENV] == "20000"
    assert environment[UPLOAD_SETTINGS_ENV] == "iterations,learning-rate,preset"


PRICES = (PRICE_PER_GB_SECOND_ENV, PRICE_PER_REQUEST_ENV, PRICE_PER_TRANSITION_ENV)


def test_events_go_to_the_default_bus_and_latest_follows_the_newest_run(resources: dict) -> None:
    environment = function_environment(resources)

    assert environment[EVENT_BUS_ENV] == "default"
    assert environment[PROMOTION_ENV] == "newest"


def test_unset_prices_leave_the_librarys_table_in_place(resources: dict) -> None:
    assert not set(PRICES) & set(function_environment(resources))


def test_bus_promotion_and_prices_follow_the_context(configured_resources: dict) -> None:
    environment = function_environment(configured_resources)

    assert environment[EVENT_BUS_ENV] == "linreg-runs"
    assert environment[PROMOTION_ENV] == "near-optimum:5"
    # As the runtime reads them.
    assert [cost.price(environment, name) for name in PRICES] == [0.0000133334, 2e-7, 0.0]


def test_configured_memory_sets_the_openmp_threads(configured_resources: dict) -> None:
    environment = function_environment(configured_resources)

    assert environment["OMP_NUM_THREADS"] == "2"  # 3538 MB: two whole vCPUs


@pytest.mark.parametrize(
    ("memory_mb", "threads"), [(128, 1), (1024, 1), (1769, 1), (3538, 2), (10240, 5)]
)
def test_omp_threads_never_exceed_whole_lambda_vcpus(memory_mb: int, threads: int) -> None:
    assert omp_threads_for(memory_mb) == threads


# --- recursion and logs -------------------------------------------------------------------


def test_lambda_terminates_recursive_loops(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "RecursiveLoop": "Terminate"}
    )


def test_function_logs_as_json_to_its_own_log_group_kept_one_month(resources: dict) -> None:
    logging = resources[function_id(resources)]["Properties"]["LoggingConfig"]
    log_group = resources[logging["LogGroup"]["Ref"]]

    assert logging["LogFormat"] == "JSON"
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_log_retention_follows_the_context(configured_resources: dict) -> None:
    # Both log groups: the function's and the state machine's.
    log_groups = of_type(configured_resources, "AWS::Logs::LogGroup")

    assert len(log_groups) == 2
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == 90
