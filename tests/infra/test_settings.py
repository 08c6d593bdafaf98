"""The `linreg:*` context keys (infra/settings.py): defaults, parsing of -c strings and
cdk.json values, and the message a bad value stops synthesis with. Plain Python, no CDK
synthesis."""

from __future__ import annotations

import pytest

from linreg import config
from linreg.spec import BUILT_IN
from settings import CONTEXT_KEYS, DATASETS, Settings, SettingsError


def test_empty_context_gives_the_documented_defaults() -> None:
    settings = Settings.from_context({})

    assert settings == Settings(
        stack_name="Linreg",
        memory_mb=2048,
        timeout_seconds=300,
        reserved_concurrency=None,
        incoming_prefix="incoming/",
        models_prefix="models/",
        failures_prefix="failures/",
        log_retention_days=30,
        max_event_age_seconds=21600,
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
        ("linreg:memoryMb", "127"),
        ("linreg:memoryMb", "10241"),
        ("linreg:memoryMb", "1.5"),
        ("linreg:memoryMb", True),
        ("linreg:timeoutSeconds", "0"),
        ("linreg:timeoutSeconds", "901"),
        ("linreg:reservedConcurrency", "0"),
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
        ("linreg:logRetentionDays", "31"),
        ("linreg:maxEventAgeSeconds", "59"),
        ("linreg:maxEventAgeSeconds", "21601"),
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


def test_prefixes_that_only_share_a_parent_are_accepted() -> None:
    settings = Settings.from_context(
        {
            "linreg:incomingPrefix": "linreg/in/",
            "linreg:modelsPrefix": "linreg/models/",
            "linreg:failuresPrefix": "linreg/failures/",
        }
    )

    assert settings.models_prefix == "linreg/models/"


def test_every_key_maps_to_a_settings_field() -> None:
    fields = set(Settings.__dataclass_fields__)

    assert {field for field, _ in CONTEXT_KEYS.values()} == fields


def test_hyperparameter_limits_match_the_library() -> None:
    # A limit only the library knows would pass the deploy and fail every run.
    assert Settings.from_context({"linreg:iterations": str(config.MAX_ITERATIONS)}).iterations
    for loss in config.LOSSES:
        assert Settings.from_context({"linreg:loss": loss}).loss == loss
    for engine in config.ENGINES:
        assert Settings.from_context({"linreg:engine": engine}).engine == engine
    for preset in config.PRESETS:
        assert Settings.from_context({"linreg:preset": preset}).preset == preset
    with pytest.raises(SettingsError):
        Settings.from_context({"linreg:iterations": str(config.MAX_ITERATIONS + 1)})


def test_dataset_names_match_the_librarys_built_ins() -> None:
    assert set(DATASETS) == set(BUILT_IN)
