"""Rooms: constructs that group the stack's resources without renaming them.

A logical id is a resource's identity to CloudFormation. CDK derives it from the
resource's construct path, so moving a resource into a construct gives it a new id, and a
new id means a new resource: for a retained bucket, a new empty bucket next to the
orphaned old one, for a queue, a new empty queue. The stack's resources were first
written flat, directly in the stack; they are grouped now (storage, function, trigger,
distributed run, monitoring), and every deployed stack must keep its resources.

So a `Room` is a construct whose id the stack leaves out of every logical id
(`RoomStack._allocate_logical_id`): `Linreg/Storage/Bucket/Resource` is allocated the id
that `Linreg/Bucket/Resource` had, `Bucket83908E77`. A room is for grouping only: a
reusable construct with an identity of its own should be an ordinary `Construct`.

Some construct ids are made by CDK from another construct's unique id
(`Names.nodeUniqueId`, the whole path from the app down): the function's event source
mapping is named after its queue ("SqsEventSource:LinregTriggerQueue6AFE3B67"), an
EventBridge rule's permission after its function. The override gives such an id the
other construct's unique id as it was without rooms. What it cannot reach is a unique id
that CDK writes into a property instead of an id (the Sid that a rule's dead-letter queue
policy gets): a construct CDK names that way is created in the stack's own scope (see
`DistributedRun`).

The snapshots in tests/infra/snapshots are the proof that nothing was renamed.
"""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from constructs import Construct

# aws-cdk-lib core/lib/private/uniqueid.ts, whose makeUniqueId these functions port.
HIDDEN_ID = "Default"
HIDDEN_FROM_HUMAN_ID = "Resource"
PATH_SEP = "/"
HASH_LEN = 8
MAX_HUMAN_LEN = 240
MAX_ID_LEN = 255
NON_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class Room(Construct):
    """A construct that groups resources and is left out of their logical ids (see the
    module docstring: a new logical id for a retained bucket is a new, empty bucket)."""


def make_unique_id(components: list[str]) -> str:
    """CDK's makeUniqueId: the logical id (or unique id) of a construct path's ids."""
    components = [component for component in components if component != HIDDEN_ID]
    if not components:
        raise ValueError("Unable to calculate a unique id for an empty set of components")
    if len(components) == 1:
        candidate = NON_ALPHANUMERIC.sub("", components[0])
        if len(candidate) <= MAX_ID_LEN:
            return candidate
    digest = hashlib.md5(PATH_SEP.join(components).encode()).hexdigest()
    human = "".join(
        NON_ALPHANUMERIC.sub("", component)
        for component in _without_dupes(components)
        if component != HIDDEN_FROM_HUMAN_ID
    )
    return human[:MAX_HUMAN_LEN] + digest[:HASH_LEN].upper()


def _without_dupes(components: list[str]) -> list[str]:
    """CDK's removeDupes: a component that ends the one before it is left out."""
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept


def ids_outside_rooms(scopes: list[Construct]) -> list[str]:
    """The ids of a path's constructs, rooms left out."""
    return [scope.node.id for scope in scopes if not isinstance(scope, Room)]


class RoomStack(cdk.Stack):
    """A stack whose rooms do not count in its logical ids (see the module docstring)."""

    def __init__(self, scope: Construct | None, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Id component -> the same, with unique ids made inside rooms replaced by the ones
        # the constructs had without them. A component never changes once made.
        self._unroomed: dict[str, str] = {}

    def _allocate_logical_id(self, cfn_element: cdk.CfnElement) -> str:
        """Stack.allocateLogicalId (called through jsii for every element, on every
        reference): CDK's own, from the element's path below the stack, rooms left out."""
        scopes = cfn_element.node.scopes
        below = scopes[scopes.index(self) + 1 :]
        return make_unique_id([self._without_roomed_ids(id_) for id_ in ids_outside_rooms(below)])

    def _without_roomed_ids(self, component: str) -> str:
        """``component`` with every unique id of a construct inside a room that it embeds
        replaced by the construct's unique id without rooms."""
        if component not in self._unroomed:
            text = component
            # Every unique id starts with the id of the app's child this stack is in.
            top = NON_ALPHANUMERIC.sub("", self.node.scopes[1].node.id)
            if top in component:
                for construct in self.node.find_all():
                    if not any(isinstance(scope, Room) for scope in construct.node.scopes):
                        continue
                    roomed = cdk.Names.node_unique_id(construct.node)
                    if roomed in text:
                        text = text.replace(roomed, self.unique_id_without_rooms(construct))
            self._unroomed[component] = text
        return self._unroomed[component]

    @staticmethod
    def unique_id_without_rooms(construct: Construct) -> str:
        """`Names.nodeUniqueId` of ``construct`` as if no room held it."""
        return make_unique_id(ids_outside_rooms(construct.node.scopes[1:]))
