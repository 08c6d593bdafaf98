"""The synthesized templates, pinned: a change to the stack's code that changes what
CloudFormation would deploy shows here as a resource diff.

A logical id is the resource's identity to CloudFormation: a new id for a retained bucket
or a queue means a new, empty resource beside the orphaned old one. A refactoring of the
construct code must leave both snapshots as they are. A change meant to alter the
template rewrites them:

    LINREG_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/infra/test_template_snapshot.py

and the snapshot's diff is then reviewed with the change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from template import of_type

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
# The function image's tag is the hash of lambda_src/ and image/: any library change moves it.
IMAGE_TAG = re.compile(r"(container-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}:)[0-9a-f]{64}")
# What the template may not lose or rename: the data, its logs and the messages in flight.
RETAINED = [
    "AccessLogBucketDA470295",
    "Bucket83908E77",
    "FunctionLogsAE28C13D",
    "StateMachineLogs3CB16D3C",
]
QUEUES = ["FailureQueue4F308C52", "TriggerQueue434C4AA5"]


def normalized(template: dict) -> dict:
    """The template without what changes on its own: the image tag."""
    text = IMAGE_TAG.sub(r"\1IMAGE_TAG", json.dumps(template, sort_keys=True))
    return json.loads(text)


def changed_ids(now: dict, pinned: dict) -> dict[str, list[str]]:
    """Logical ids added, removed, or whose resource differs, per template section."""
    diff = {}
    for section in sorted(set(now) | set(pinned)):
        ours, theirs = now.get(section, {}), pinned.get(section, {})
        if not isinstance(ours, dict) or not isinstance(theirs, dict):
            if ours != theirs:
                diff[section] = ["(value)"]
            continue
        ids = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        if ids:
            diff[section] = ids
    return diff


@pytest.mark.parametrize("app", ["default", "configured"])
def test_the_template_is_its_snapshot(app, template, configured_template):
    now = normalized((template if app == "default" else configured_template).to_json())
    path = SNAPSHOTS / f"{app}.template.json"
    if os.environ.get("LINREG_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(path.read_text())
    assert changed_ids(now, pinned) == {}


def test_retained_resources_keep_their_logical_ids(resources):
    retained = sorted(k for k, r in resources.items() if r.get("DeletionPolicy") == "Retain")
    assert retained == RETAINED


def test_queues_keep_their_logical_ids(resources):
    assert sorted(of_type(resources, "AWS::SQS::Queue")) == QUEUES
