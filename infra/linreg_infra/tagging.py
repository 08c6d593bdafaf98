"""Cost-allocation tags (linreg:tags over settings.default_tags) on every resource of the
stack that CloudFormation can tag.

`cdk.Tags.of(stack)` reaches every L1 resource whose type CDK knows as taggable. It does not
reach the plain `CfnResource`s that aws-cdk-lib writes for some of its own helpers (the
function and role of the auto-delete-objects provider, with linreg:destroyOnDelete): those
get their Tags property set here, for the types that take a list of Key/Value tags.
Custom resources (Custom::*) take no tags.
tests/infra/test_tags.py checks every resource against CloudFormation's own schemas.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import jsii
from constructs import IConstruct

# The types of CDK's plain CfnResources that take Tags as a list of {Key, Value}.
LIST_TAGGED_TYPES = frozenset({"AWS::Lambda::Function", "AWS::IAM::Role"})


def tag_every_resource(stack: cdk.Stack, tags: Mapping[str, str]) -> None:
    """Tag every resource of ``stack`` with ``tags``."""
    for key, value in tags.items():
        cdk.Tags.of(stack).add(key, value)
    cdk.Aspects.of(stack).add(_TagPlainResources(tags))


@jsii.implements(cdk.IAspect)
class _TagPlainResources:
    """Sets Tags on the plain CfnResources that CDK's tag aspect passes by."""

    def __init__(self, tags: Mapping[str, str]) -> None:
        self.tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cdk.CfnResource) or cdk.TagManager.is_taggable(node):
            return
        if node.cfn_resource_type in LIST_TAGGED_TYPES:
            node.add_property_override(
                "Tags", [{"Key": key, "Value": value} for key, value in sorted(self.tags.items())]
            )
