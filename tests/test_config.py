import pytest

from linreg.config import Hyperparameters, env_settings
from linreg.errors import InputError


def test_defaults_are_the_tutorials():
    assert Hyperparameters().as_dict() == {
        "learning_rate": 0.01,
        "iterations": 100,
        "seed": 0,
        "loss": "mean",
        "engine": "statistics",
        "test_size": 0.3,
        "split_seed": 1,
    }


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


def test_text_that_is_not_a_number_names_the_setting():
    with pytest.raises(InputError, match="iterations: 'ten'"):
        Hyperparameters.from_strings({"iterations": "ten"})


def test_env_settings_read_only_linreg_variables():
    env = {"LINREG_LEARNING_RATE": "0.02", "LINREG_SEED": "", "PATH": "/bin"}
    assert env_settings(env) == {"learning_rate": "0.02"}
