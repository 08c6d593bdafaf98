"""The `linreg:*` context keys (infra/linreg_infra/settings.py): defaults, parsing of -c
strings and cdk.json values, and the message a bad value stops synthesis with. Plain
Python, no CDK synthesis."""

from __future__ import annotations

import pytest

from linreg import config
from linreg.contract import (
    DEFAULT_DISTRIBUTED_ABOVE_BYTES,
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_MEMORY_MB,
    DEFAULT_PART_BYTES,
    DISTRIBUTED_ABOVE_BYTES_ENV,
    EVENT_BUS_ENV,
    MAX_ITERATIONS_ENV,
    MAX_PARTS,
    MAX_PARTS_ENV,
    PART_BYTES_ENV,
    PRICE_PER_GB_SECOND_ENV,
    PRICE_PER_REQUEST_ENV,
    PRICE_PER_TRANSITION_ENV,
    PROMOTION_ENV,
    UPLOAD_SETTINGS_ENV,
)
from linreg.promotion import Promotion
from linreg.spec import BUILT_IN
from linreg_infra.settings import CONTEXT_KEYS, DATASETS, Settings, SettingsError


def test_empty_context_gives_the_documented_defaults() -> None:
    settings = Settings.from_context({})

    assert settings == Settings(
        stack_name="Linreg",
        memory_mb=2048,
        timeout_seconds=300,
        reserved_concurrency=None,
        max_concurrency=5,
        incoming_prefix="incoming/",
        models_prefix="models/",
        failures_prefix="failures/",
        max_iterations=DEFAULT_MAX_ITERATIONS,
        upload_settings="",
        log_retention_days=30,
        noncurrent_version_days=90,
        access_log_expiration_days=365,
        destroy_on_delete=False,
        alarm_email=None,
    )


def test_other_context_keys_are_ignored() -> None:
    # cdk.json's feature flags share the context with ours.
    assert Settings.from_context({"@aws-cdk/core:checkSecretUsage": True}) == Settings()


def test_command_line_strings_are_parsed() -> None:
    settings = Settings.from_context(
        {
            "linreg:memoryMb": "3008",
            "linreg:reservedConcurrency": "5",
            "linreg:learningRate": "1e-3",
            "linreg:destroyOnDelete": "True",
            "linreg:alarmEmail": " ops@example.com ",
        }
    )

    assert settings.memory_mb == 3008
    assert settings.reserved_concurrency == 5
    assert settings.learning_rate == 0.001
    assert settings.destroy_on_delete is True
    assert settings.alarm_email == "ops@example.com"


def test_cdk_json_values_are_parsed() -> None:
    settings = Settings.from_context(
        {"linreg:memoryMb": 512, "linreg:learningRate": 0.1, "linreg:destroyOnDelete": False}
    )

    assert (settings.memory_mb, settings.learning_rate, settings.destroy_on_delete) == (
        512,
        0.1,
        False,
    )


@pytest.mark.parametrize(
    "key", ["linreg:reservedConcurrency", "linreg:learningRate", "linreg:alarmEmail"]
)
def test_an_empty_optional_value_means_unset(key: str) -> None:
    assert Settings.from_context({key: ""}) == Settings()


def test_hyperparameters_default_to_empty_environment_values() -> None:
    assert Settings().hyperparameter_environment() == {
        "LINREG_DATASET": "",
        "LINREG_PRESET": "",
        "LINREG_LEARNING_RATE": "",
        "LINREG_ITERATIONS": "",
        "LINREG_SEED": "",
        "LINREG_LOSS": "",
        "LINREG_ENGINE": "",
        "LINREG_TOLERANCE": "",
        "LINREG_TEST_SIZE": "",
        "LINREG_MAX_INPUT_BYTES": "",
    }


def test_set_hyperparameters_become_environment_text() -> None:
    settings = Settings.from_context(
        {
            "linreg:dataset": "diabetes",
            "linreg:preset": "converged",
            "linreg:learningRate": "0.05",
            "linreg:iterations": "500",
            "linreg:seed": "0",
            "linreg:loss": "sum",
            "linreg:engine": "tutorial",
            "linreg:tolerance": "1e-05",
            "linreg:testSize": "0.25",
            "linreg:maxInputBytes": "1048576",
        }
    )

    assert settings.hyperparameter_environment() == {
        "LINREG_DATASET": "diabetes",
        "LINREG_PRESET": "converged",
        "LINREG_LEARNING_RATE": "0.05",
        "LINREG_ITERATIONS": "500",
        "LINREG_SEED": "0",
        "LINREG_LOSS": "sum",
        "LINREG_ENGINE": "tutorial",
        "LINREG_TOLERANCE": "1e-05",
        "LINREG_TEST_SIZE": "0.25",
        "LINREG_MAX_INPUT_BYTES": "1048576",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("linreg:stackName", "9lives"),
        ("linreg:stackName", "has space"),
        ("linreg:architecture", "aarch64"),
        ("linreg:architecture", "ARM64"),
        ("linreg:memoryMb", "127"),
        ("linreg:memoryMb", "10241"),
        ("linreg:memoryMb", "1.5"),
        ("linreg:memoryMb", True),
        ("linreg:timeoutSeconds", "0"),
        ("linreg:timeoutSeconds", "901"),
        ("linreg:reservedConcurrency", "0"),
        ("linreg:maxConcurrency", "1"),
        ("linreg:maxConcurrency", "1001"),
        ("linreg:maxConcurrency", ""),
        ("linreg:incomingPrefix", "incoming"),
        ("linreg:incomingPrefix", "/incoming/"),
        ("linreg:incomingPrefix", "in*/"),
        ("linreg:modelsPrefix", ""),
        ("linreg:learningRate", "0"),
        ("linreg:learningRate", "-0.1"),
        ("linreg:learningRate", "nan"),
        ("linreg:learningRate", "fast"),
        ("linreg:iterations", "0"),
        ("linreg:iterations", "1000001"),
        ("linreg:seed", "-1"),
        ("linreg:loss", "median"),
        ("linreg:engine", "fast"),
        ("linreg:preset", "fastest"),
        ("linreg:dataset", "penguins"),
        ("linreg:tolerance", "1"),
        ("linreg:testSize", "0"),
        ("linreg:maxInputBytes", "0"),
        ("linreg:maxIterations", "0"),
        ("linreg:maxIterations", str(config.MAX_ITERATIONS + 1)),
        ("linreg:uploadSettings", "colour"),
        ("linreg:uploadSettings", "learning_rate"),
        ("linreg:uploadSettings", "preset,,seed"),
        ("linreg:uploadSettings", "all,preset"),
        ("linreg:uploadSettings", "none,preset"),
        ("linreg:logRetentionDays", "31"),
        ("linreg:noncurrentVersionDays", "0"),
        ("linreg:accessLogExpirationDays", "0"),
        ("linreg:destroyOnDelete", "yes"),
        ("linreg:alarmEmail", "not-an-address"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"^{key} "):
        Settings.from_context({key: value})


def test_a_misspelt_key_is_refused_rather_than_ignored() -> None:
    with pytest.raises(SettingsError, match="unknown context key linreg:memorymb"):
        Settings.from_context({"linreg:memorymb": "2048"})


def test_the_removed_max_event_age_key_is_refused_as_unknown() -> None:
    # Nothing invokes the function asynchronously any more, so it would mean nothing.
    with pytest.raises(SettingsError, match="unknown context key linreg:maxEventAgeSeconds"):
        Settings.from_context({"linreg:maxEventAgeSeconds": "3600"})


# --- concurrency --------------------------------------------------------------------------


def test_max_concurrency_accepts_lambdas_range() -> None:
    assert Settings.from_context({"linreg:maxConcurrency": "2"}).max_concurrency == 2
    assert Settings.from_context({"linreg:maxConcurrency": 1000}).max_concurrency == 1000


def test_reserved_concurrency_below_max_concurrency_is_refused() -> None:
    # Lambda would throttle the queue's extra runs, and each throttle counts as a delivery.
    with pytest.raises(SettingsError, match="^linreg:reservedConcurrency 4 is below"):
        Settings.from_context({"linreg:reservedConcurrency": "4"})


def test_reserved_concurrency_at_least_max_concurrency_is_accepted() -> None:
    settings = Settings.from_context(
        {"linreg:reservedConcurrency": "3", "linreg:maxConcurrency": "3"}
    )

    assert (settings.reserved_concurrency, settings.max_concurrency) == (3, 3)


# --- the operator's limits ----------------------------------------------------------------


def test_limits_environment_always_names_both_limits() -> None:
    assert Settings().limits_environment() == {
        MAX_ITERATIONS_ENV: str(DEFAULT_MAX_ITERATIONS),
        UPLOAD_SETTINGS_ENV: "",
    }


def test_max_iterations_limits_match_the_library() -> None:
    limit = str(config.MAX_ITERATIONS)

    assert Settings.from_context({"linreg:maxIterations": limit}).max_iterations == int(limit)
    assert Settings.from_context({"linreg:maxIterations": "1"}).max_iterations == 1


@pytest.mark.parametrize("value", ["all", " ALL ", "", None])
def test_upload_settings_all_or_unset_is_an_empty_environment_value(value: object) -> None:
    assert Settings.from_context({"linreg:uploadSettings": value}).upload_settings == ""


def test_upload_settings_none_allows_no_metadata() -> None:
    assert Settings.from_context({"linreg:uploadSettings": " None"}).upload_settings == "none"


def test_upload_settings_are_sorted_unique_metadata_keys() -> None:
    settings = Settings.from_context({"linreg:uploadSettings": " Seed , preset,seed"})

    assert settings.upload_settings == "preset,seed"


def test_upload_settings_accept_every_library_metadata_key() -> None:
    names = ",".join(config.METADATA_NAMES.values())

    assert Settings.from_context({"linreg:uploadSettings": names}).upload_settings == ",".join(
        sorted(config.METADATA_NAMES.values())
    )


@pytest.mark.parametrize(
    ("incoming", "models", "failures"),
    [
        ("data/", "data/models/", "failures/"),  # output under the upload prefix
        ("data/in/", "data/", "failures/"),  # upload prefix under an output prefix
        ("incoming/", "out/", "out/failures/"),  # failure records inside the models
        ("incoming/", "same/", "same/"),
    ],
)
def test_overlapping_prefixes_are_refused(incoming: str, models: str, failures: str) -> None:
    context = {
        "linreg:incomingPrefix": incoming,
        "linreg:modelsPrefix": models,
        "linreg:failuresPrefix": failures,
    }

    with pytest.raises(SettingsError, match="overlap"):
        Settings.from_context(context)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("linreg:predictPrefix", "incoming/score/"),  # under the upload prefix
        ("linreg:predictPrefix", "predictions/"),  # predictions would trigger it again
        ("linreg:predictionsPrefix", "models/predictions/"),  # listed among the models
        ("linreg:predictionsPrefix", "failures/"),
    ],
)
def test_predict_prefixes_overlapping_another_are_refused(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match="overlap"):
        Settings.from_context({key: value})


def test_prefixes_that_only_share_a_parent_are_accepted() -> None:
    settings = Settings.from_context(
        {
            "linreg:incomingPrefix": "linreg/in/",
            "linreg:modelsPrefix": "linreg/models/",
            "linreg:failuresPrefix": "linreg/failures/",
        }
    )

    assert settings.models_prefix == "linreg/models/"


def test_architecture_x86_64_is_accepted() -> None:
    assert Settings.from_context({"linreg:architecture": "x86_64"}).architecture == "x86_64"


def test_architecture_arm64_is_refused_with_what_mxnet_lacks() -> None:
    with pytest.raises(SettingsError, match=r"linreg:architecture: .*libarmpl_lp64_mp\.so"):
        Settings.from_context({"linreg:architecture": "arm64"})


def test_architecture_defaults_to_x86_64_when_unset() -> None:
    assert Settings.from_context({"linreg:architecture": ""}).architecture == "x86_64"
    assert Settings.from_context({}).architecture == "x86_64"


def test_every_key_maps_to_a_settings_field() -> None:
    fields = set(Settings.__dataclass_fields__)

    assert {field for field, _ in CONTEXT_KEYS.values()} == fields


def test_hyperparameter_limits_match_the_library() -> None:
    # A limit only the library knows would pass the deploy and fail every run.
    most = str(config.MAX_ITERATIONS)
    assert Settings.from_context({"linreg:iterations": most, "linreg:maxIterations": most})
    for loss in config.LOSSES:
        assert Settings.from_context({"linreg:loss": loss}).loss == loss
    for engine in config.ENGINES:
        assert Settings.from_context({"linreg:engine": engine}).engine == engine
    for preset in config.PRESETS:
        assert Settings.from_context({"linreg:preset": preset}).preset == preset
    with pytest.raises(SettingsError):
        Settings.from_context({"linreg:iterations": str(config.MAX_ITERATIONS + 1)})


def test_default_iterations_above_the_iteration_limit_stop_synthesis() -> None:
    with pytest.raises(SettingsError, match="maxIterations"):
        Settings.from_context({"linreg:iterations": "5000", "linreg:maxIterations": "1000"})


def test_dataset_names_match_the_librarys_built_ins() -> None:
    assert set(DATASETS) == set(BUILT_IN)


# --- scale-out ------------------------------------------------------------------------------


def test_distributed_settings_default_to_the_contracts_sizes() -> None:
    settings = Settings()

    assert settings.distributed_environment() == {
        DISTRIBUTED_ABOVE_BYTES_ENV: str(DEFAULT_DISTRIBUTED_ABOVE_BYTES),
        PART_BYTES_ENV: str(DEFAULT_PART_BYTES),
        MAX_PARTS_ENV: str(MAX_PARTS),
    }
    assert (settings.max_parallel_parts, settings.distributed_timeout_seconds) == (100, 3600)


def test_max_parts_is_at_most_the_contracts_cap() -> None:
    assert Settings.from_context({"linreg:maxParts": "1"}).max_parts == 1
    assert Settings.from_context({"linreg:maxParts": str(MAX_PARTS)}).max_parts == MAX_PARTS
    with pytest.raises(SettingsError, match="linreg:maxParts"):
        Settings.from_context({"linreg:maxParts": str(MAX_PARTS + 1)})


def test_parallel_parts_above_the_reserved_concurrency_stop_synthesis() -> None:
    with pytest.raises(SettingsError, match="^linreg:maxParallelParts 50 is above"):
        Settings.from_context({"linreg:reservedConcurrency": "20", "linreg:maxParallelParts": "50"})


def test_parallel_parts_default_to_the_reserved_concurrency_when_lower() -> None:
    settings = Settings.from_context({"linreg:reservedConcurrency": "20"})

    assert settings.max_parallel_parts == 20


def test_distributed_settings_accept_their_whole_ranges() -> None:
    lowest = Settings.from_context(
        {
            "linreg:distributedAboveBytes": str(2**20),
            "linreg:partBytes": str(2**20),
            "linreg:maxParallelParts": "1",
            "linreg:timeoutSeconds": "20",
            "linreg:distributedTimeoutSeconds": "60",
        }
    )
    highest = Settings.from_context(
        {
            "linreg:distributedAboveBytes": 5 * 2**40,
            "linreg:partBytes": 10 * 2**30,
            "linreg:maxParallelParts": 10_000,
            "linreg:distributedTimeoutSeconds": 86_400,
        }
    )

    assert (lowest.part_bytes, lowest.max_parallel_parts) == (2**20, 1)
    assert lowest.distributed_timeout_seconds == 60
    assert (highest.distributed_above_bytes, highest.part_bytes) == (5 * 2**40, 10 * 2**30)
    assert (highest.max_parallel_parts, highest.distributed_timeout_seconds) == (10_000, 86_400)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("linreg:distributedAboveBytes", str(2**20 - 1)),
        ("linreg:distributedAboveBytes", str(5 * 2**40 + 1)),
        ("linreg:distributedAboveBytes", "256MiB"),
        ("linreg:partBytes", str(2**20 - 1)),
        ("linreg:partBytes", str(10 * 2**30 + 1)),
        ("linreg:maxParallelParts", "0"),
        ("linreg:maxParallelParts", "10001"),
        ("linreg:distributedTimeoutSeconds", "59"),
        ("linreg:distributedTimeoutSeconds", "86401"),
        ("linreg:distributedTimeoutSeconds", ""),
    ],
)
def test_a_bad_distributed_value_is_refused_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"^{key} "):
        Settings.from_context({key: value})


def test_parts_larger_than_the_threshold_are_refused() -> None:
    with pytest.raises(SettingsError, match="^linreg:partBytes .* above"):
        Settings.from_context(
            {"linreg:partBytes": str(64 * 2**20), "linreg:distributedAboveBytes": str(32 * 2**20)}
        )


def test_a_run_timeout_shorter_than_three_function_timeouts_is_refused() -> None:
    # Plan, the parts and reduce run one after another, each up to the function's timeout.
    with pytest.raises(SettingsError, match="^linreg:distributedTimeoutSeconds 899 is below"):
        Settings.from_context({"linreg:distributedTimeoutSeconds": "899"})
    assert Settings.from_context({"linreg:distributedTimeoutSeconds": "900"})


# --- after a run: the completion event, mail, promotion, prices ----------------------------


def test_after_run_settings_default_to_the_default_bus_newest_and_the_price_table() -> None:
    settings = Settings()

    assert (settings.event_bus_name, settings.notify_email) == ("default", None)
    assert settings.after_run_environment() == {
        EVENT_BUS_ENV: "default",
        PROMOTION_ENV: "newest",
    }
    assert settings.memory_mb == DEFAULT_MEMORY_MB


def test_after_run_settings_reach_the_environment() -> None:
    settings = Settings.from_context(
        {
            "linreg:eventBusName": " linreg-runs ",
            "linreg:promotion": "BETTER",
            "linreg:pricePerGbSecond": "0.0000133334",
            "linreg:pricePerRequest": 2e-7,
            "linreg:pricePerTransition": "0",
        }
    )

    assert settings.after_run_environment() == {
        EVENT_BUS_ENV: "linreg-runs",
        PROMOTION_ENV: "better",
        PRICE_PER_GB_SECOND_ENV: "1.33334e-05",
        PRICE_PER_REQUEST_ENV: "2e-07",
        PRICE_PER_TRANSITION_ENV: "0.0",
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [("", "newest"), ("newest", "newest"), (" better", "better"), ("near-optimum:2.5", None)],
)
def test_promotion_is_the_librarys_own_reading(text: str, rule: str | None) -> None:
    # The environment holds what linreg.promotion makes of the setting, normalized.
    promotion = Settings.from_context({"linreg:promotion": text}).promotion

    assert promotion == (rule or str(Promotion.parse(text)))
    assert Promotion.parse(promotion) == Promotion.parse(text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("linreg:eventBusName", "aws.partner/example.com/123/bus"),
        ("linreg:eventBusName", "arn:aws:events:us-east-1:123456789012:event-bus/other"),
        ("linreg:eventBusName", "has space"),
        ("linreg:eventBusName", "b" * 257),
        ("linreg:notifyEmail", "not-an-address"),
        ("linreg:promotion", "best"),
        ("linreg:promotion", "near-optimum"),
        ("linreg:promotion", "near-optimum:-1"),
        ("linreg:pricePerGbSecond", "-0.1"),
        ("linreg:pricePerRequest", "free"),
        ("linreg:pricePerTransition", "nan"),
        ("linreg:pricePerTransition", True),
        ("linreg:tags", "aws:createdBy=me"),
        ("linreg:tags", "AWS:x=1"),
        ("linreg:tags", "team"),
        ("linreg:tags", "=ml"),
        ("linreg:tags", "team=ml,team=ops"),
        ("linreg:tags", "team=ml;ops"),
        ("linreg:tags", "k" * 129 + "=v"),
        ("linreg:tags", "k=" + "v" * 257),
        ("linreg:tags", {"team": ["ml"]}),
        ("linreg:tags", {"team": True}),
        ("linreg:tags", '{"team": "ml"'),
        ("linreg:tags", ["team=ml"]),
    ],
)
def test_a_bad_after_run_value_is_refused_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"^{key}[: ]"):
        Settings.from_context({key: value})


@pytest.mark.parametrize("key", ["linreg:eventBusName", "linreg:notifyEmail", "linreg:promotion"])
def test_an_empty_after_run_value_means_the_default(key: str) -> None:
    assert Settings.from_context({key: ""}) == Settings()


# --- cost-allocation tags -------------------------------------------------------------------


def test_tags_default_to_the_project_and_the_stack() -> None:
    assert Settings().resource_tags() == {"project": "linreg", "linreg:stack": "Linreg"}
    assert Settings.from_context({"linreg:stackName": "Other"}).resource_tags() == {
        "project": "linreg",
        "linreg:stack": "Other",
    }


@pytest.mark.parametrize(
    "value",
    [
        {"team": "ml", "project": "forecasts"},  # cdk.json
        '{"team": "ml", "project": "forecasts"}',  # -c, as JSON
        " team = ml ,project=forecasts",  # -c, as k=v,k=v
    ],
)
def test_tags_from_cdk_json_or_the_command_line_merge_over_the_defaults(value: object) -> None:
    assert Settings.from_context({"linreg:tags": value}).resource_tags() == {
        "project": "forecasts",
        "linreg:stack": "Linreg",
        "team": "ml",
    }


def test_tags_accept_what_aws_allows() -> None:
    tags = {
        "k" * 128: "v" * 256,
        "Kostenstelle/Équipe": "Zürich 42",
        "a.b:c/d=e+f-g@h_i": "",
        "cost-center": 4711,
    }

    assert Settings.from_context({"linreg:tags": tags}).tags == {
        **{k: str(v) for k, v in tags.items()},
    }


def test_more_tags_than_a_resource_holds_are_refused() -> None:
    # 50 per resource: the two defaults and CDK's own on a bucket leave 47.
    fits = ",".join(f"t{i}=v" for i in range(47))

    assert len(Settings.from_context({"linreg:tags": fits}).resource_tags()) == 49
    with pytest.raises(SettingsError, match="^linreg:tags gives 50 tags"):
        Settings.from_context({"linreg:tags": fits + ",t47=v"})
