from datetime import UTC, datetime

import pytest

from linreg.storage import Layout, run_id


def test_model_name_strips_the_upload_prefix_and_suffix():
    assert Layout().model_name("incoming/lab/a b.csv") == "lab/a b"


@pytest.mark.parametrize("key", ["models/a.csv", "incoming/a.txt", "incoming/.csv", "a.csv"])
def test_keys_that_are_not_uploads_have_no_model_name(key):
    assert Layout().model_name(key) is None


def test_layout_comes_from_the_environment_with_defaults():
    layout = Layout.from_env({"MODELS_PREFIX": "trained/", "FAILURES_PREFIX": ""})
    assert (layout.incoming, layout.models, layout.failures) == (
        "incoming/",
        "trained/",
        "failures/",
    )


@pytest.mark.parametrize(
    "options",
    [{"models": "incoming/models/"}, {"failures": "incoming/"}, {"incoming": "models/in/"}],
)
def test_outputs_may_never_land_under_the_upload_prefix(options):
    with pytest.raises(ValueError, match="overlaps"):
        Layout(**options)


def test_run_id_is_stable_for_the_same_version_and_settings():
    when = datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)
    first = run_id(etag="abc", version_id=None, last_modified=when, settings={})
    assert first == run_id(etag="abc", version_id=None, last_modified=when, settings={})
    assert first.startswith("20261129T120005Z-")


@pytest.mark.parametrize(
    "change", [{"etag": "abd"}, {"version_id": "v2"}, {"settings": {"seed": "1"}}]
)
def test_run_id_changes_with_content_version_or_settings(change):
    when = datetime(2026, 11, 29, tzinfo=UTC)
    base = {"etag": "abc", "version_id": None, "last_modified": when, "settings": {}}
    assert run_id(**base) != run_id(**{**base, **change})
