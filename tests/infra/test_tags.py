"""Cost-allocation tags (linreg:tags over the defaults) on every resource CloudFormation can
tag, in both apps.

Which resource types take tags is not decided from the template (a resource CDK forgot to
tag would look untaggable) but from CloudFormation's own resource schemas, as cfn-lint
ships them: their `tagging.taggable` and `tagging.tagProperty`.
"""

from __future__ import annotations

import copy
from functools import cache

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from linreg_infra.settings import default_tags

REGION = "us-east-1"
# A custom resource (Custom::*) is an AWS::CloudFormation::CustomResource to the schemas.
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
EXPECTED = {
    "default": default_tags("Linreg"),
    # The configured app's linreg:tags override the project and add two.
    "configured": {
        "project": "forecasts",
        "linreg:stack": "LinregConfigured",
        "team": "ml",
        "cost-center": "4711",
    },
}


@cache
def tag_property(resource_type: str) -> str | None:
    """The property CloudFormation tags ``resource_type`` through ("Tags"), or None if the
    type takes no tags: from its schema's `tagging`, else the older top-level `taggable`,
    else whether it has a Tags property at all."""
    if resource_type.startswith("Custom::"):
        resource_type = CUSTOM_RESOURCE
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    tagging = schema.get("tagging")
    if tagging is not None:
        # The schema format's default is taggable (a type that says nothing takes tags).
        if not tagging.get("taggable", True):
            return None
        return tagging.get("tagProperty", "/properties/Tags").removeprefix("/properties/")
    if "taggable" in schema:
        return "Tags" if schema["taggable"] else None
    return "Tags" if "Tags" in schema.get("properties", {}) else None


def tags_of(resource: dict, prop: str) -> dict[str, str]:
    """A resource's tags as a dict, from a list of {Key, Value} or a map."""
    tags = resource.get("Properties", {}).get(prop, {})
    if isinstance(tags, list):
        return {tag["Key"]: tag["Value"] for tag in tags}
    return dict(tags)


def untagged(resources: dict, expected: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every taggable resource whose tags lack or differ from ``expected``: logical id ->
    the expected tags it does not carry."""
    missing = {}
    for logical_id, resource in resources.items():
        prop = tag_property(resource["Type"])
        if prop is None:
            continue
        tags = tags_of(resource, prop)
        wrong = {k: v for k, v in expected.items() if tags.get(k) != v}
        if wrong:
            missing[logical_id] = wrong
    return missing


@pytest.fixture(params=["default", "configured"])
def app(request: pytest.FixtureRequest) -> tuple[dict, dict[str, str]]:
    """Either app's resources, with the tags each of them must carry."""
    name = request.param
    resources = request.getfixturevalue({"default": "resources"}.get(name, "configured_resources"))
    return resources, EXPECTED[name]


def test_every_taggable_resource_carries_the_stacks_tags(app) -> None:
    resources, expected = app

    assert untagged(resources, expected) == {}


def test_the_schemas_find_taggable_resources_of_every_kind_the_stack_has(app) -> None:
    # Not an empty check: the function, its role, the buckets, queues, log groups, the state
    # machine, the rules and the alarms are all taggable to CloudFormation.
    resources, _ = app
    taggable = {r["Type"] for r in resources.values() if tag_property(r["Type"])}

    assert taggable >= {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Logs::LogGroup",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventSourceMapping",
    }


def test_what_the_schemas_say_cannot_be_tagged_takes_no_tags(configured_resources) -> None:
    # Policies, permissions, subscriptions and custom resources: none has a Tags property.
    types = {r["Type"] for r in configured_resources.values() if not tag_property(r["Type"])}

    assert types >= {
        "AWS::IAM::Policy",
        "AWS::Lambda::Permission",
        "AWS::SNS::Subscription",
        "Custom::S3BucketNotifications",
    }
    for resource in configured_resources.values():
        if resource["Type"] in types:
            assert "Tags" not in resource.get("Properties", {}), resource["Type"]


def test_a_resource_cdks_tag_aspect_passes_by_is_tagged_too(configured_resources) -> None:
    # With destroyOnDelete, CDK's auto-delete-objects provider is a plain CfnResource
    # function and role, which cdk.Tags never reaches (linreg_infra/tagging.py).
    provider = {
        logical_id: resource
        for logical_id, resource in configured_resources.items()
        if logical_id.startswith("CustomS3AutoDeleteObjectsCustomResourceProvider")
    }

    assert sorted(r["Type"] for r in provider.values()) == [
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
    ]
    assert untagged(provider, EXPECTED["configured"]) == {}


def test_a_missing_or_wrong_tag_is_found(configured_resources) -> None:
    # The check itself: one tag dropped from the function, one changed on a queue.
    resources = copy.deepcopy(configured_resources)
    function = next(
        k for k, r in resources.items() if r["Properties"].get("PackageType") == "Image"
    )
    queue = next(k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue")
    resources[function]["Properties"]["Tags"] = [
        t for t in resources[function]["Properties"]["Tags"] if t["Key"] != "team"
    ]
    for tag in resources[queue]["Properties"]["Tags"]:
        if tag["Key"] == "project":
            tag["Value"] = "linreg"

    assert untagged(resources, EXPECTED["configured"]) == {
        function: {"team": "ml"},
        queue: {"project": "forecasts"},
    }
