import pytest

from linreg.config import Hyperparameters, env_settings, metadata_settings
from linreg.errors import InputError


def test_defaults_are_the_tutorials():
    assert Hyperparameters().as_dict() == {
        "dataset": "iris",
        "preset": "tutorial",
        "learning_rate": 0.01,
        "iterations": 100,
        "tolerance": None,
        "standardize": False,
        "seed": 0,
        "loss": "mean",
        "engine": "statistics",
        "test_size": 0.3,
        "split_seed": 1,
    }


def test_converged_preset_standardizes_with_an_automatic_rate_and_early_stopping():
    converged = Hyperparameters.for_preset("converged")
    assert converged.standardize and converged.learning_rate is None
    assert converged.tolerance == 1e-6 and converged.iterations == 5000


def test_explicit_settings_override_the_preset():
    settings = Hyperparameters.for_preset("converged", learning_rate=0.1, iterations=50)
    assert (settings.learning_rate, settings.iterations, settings.standardize) == (0.1, 50, True)


@pytest.mark.parametrize(
    "options",
    [
        {"learning_rate": -0.01},
        {"learning_rate": 0.0},
        {"learning_rate": float("nan")},
        {"iterations": 0},
        {"iterations": 2.5},
        {"seed": -1},
        {"loss": "median"},
        {"engine": "fast"},
        {"test_size": 1.0},
        {"tolerance": 0.0},
        {"preset": "fastest"},
    ],
    ids=lambda options: f"{next(iter(options))}={next(iter(options.values()))}",
)
def test_invalid_values_are_rejected_with_a_stable_code(options):
    with pytest.raises(InputError) as caught:
        Hyperparameters(**options)
    assert caught.value.code == "invalid_hyperparameters"


def test_text_settings_are_parsed_and_blanks_keep_defaults():
    parsed = Hyperparameters.from_strings(
        {"learning_rate": "0.05", "iterations": " ", "loss": "sum"}
    )
    assert (parsed.learning_rate, parsed.iterations, parsed.loss) == (0.05, 100, "sum")


def test_text_preset_applies_and_auto_means_an_automatic_rate():
    parsed = Hyperparameters.from_strings({"preset": "converged", "learning_rate": "auto"})
    assert parsed.standardize and parsed.learning_rate is None


def test_text_that_is_not_a_number_names_the_setting():
    with pytest.raises(InputError, match="iterations: 'ten'"):
        Hyperparameters.from_strings({"iterations": "ten"})


def test_env_settings_read_only_linreg_variables():
    env = {"LINREG_LEARNING_RATE": "0.02", "LINREG_SEED": "", "PATH": "/bin"}
    assert env_settings(env) == {"learning_rate": "0.02"}


def test_metadata_settings_use_hyphenated_keys_and_ignore_other_tools_keys():
    metadata = {"learning-rate": "0.05", "Test-Size": "0.2", "uploaded-by": "etl"}
    assert metadata_settings(metadata) == {"learning_rate": "0.05", "test_size": "0.2"}


@pytest.mark.parametrize("field", ["loss", "preset", "iterations", "learning_rate"])
def test_a_long_setting_is_quoted_as_an_excerpt(field):
    with pytest.raises(InputError) as caught:
        Hyperparameters.from_strings({field: "x" * 100_000})
    assert len(caught.value.message) < 300 and "(100,000 characters)" in caught.value.message
