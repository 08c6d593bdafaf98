"""The stack's outputs, and the deploy documentation that lists them and the context keys."""

from __future__ import annotations

import re

from aws_cdk.assertions import Template

from helpers import ROOT
from linreg_infra.settings import CONTEXT_KEYS
from template import bucket_id, failure_queue_id, of_type, only, trigger_queue_id

# Where the deploy documentation lives: its "## Deploy to AWS" section lists the outputs
# and the context keys.
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# Written out because the deploy documentation promises exactly these.
OUTPUTS = {
    "BucketName",
    "UploadPrefix",
    "ModelsPrefix",
    "ExampleUploadCommand",
    "FunctionName",
    "LogGroupName",
    "TriggerQueueUrl",
    "FailureQueueUrl",
    "StateMachineArn",
}


def deploy_section() -> str:
    """The "## Deploy to AWS" section of DEPLOY_DOC, up to the next "## " heading."""
    text = DEPLOY_DOC.read_text()
    return text.split("## Deploy to AWS", 1)[1].split("\n## ", 1)[0]


def test_stack_outputs_are_the_documented_ones(template: Template) -> None:
    assert set(template.to_json()["Outputs"]) == OUTPUTS


def test_example_upload_command_copies_the_sample_into_the_upload_prefix(
    template: Template, resources: dict
) -> None:
    command = template.to_json()["Outputs"]["ExampleUploadCommand"]["Value"]

    assert command == {
        "Fn::Join": [
            "",
            ["aws s3 cp data/iris.csv s3://", {"Ref": bucket_id(resources)}, "/incoming/iris.csv"],
        ]
    }


def test_queue_url_outputs_name_the_trigger_and_failure_queues(
    template: Template, resources: dict
) -> None:
    outputs = template.to_json()["Outputs"]

    assert outputs["TriggerQueueUrl"]["Value"] == {"Ref": trigger_queue_id(resources)}
    assert outputs["FailureQueueUrl"]["Value"] == {"Ref": failure_queue_id(resources)}


def test_readme_documents_every_stack_output() -> None:
    section = deploy_section()

    assert [name for name in sorted(OUTPUTS) if f"`{name}`" not in section] == []


def test_readme_documents_every_context_key() -> None:
    section = deploy_section()

    assert [key for key in sorted(CONTEXT_KEYS) if f"`{key}`" not in section] == []


def test_readme_lists_exactly_the_stack_outputs(template: Template) -> None:
    # The outputs table: | `Name` | value |, and nothing retired left behind.
    section = deploy_section()
    table = section.split("| output | value |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))

    assert listed == set(template.to_json()["Outputs"])


def test_configuration_table_lists_exactly_the_context_keys() -> None:
    # A removed key's row must go too: the deploy would refuse it as unknown.
    section = deploy_section()
    listed = set(re.findall(r"^\| `(linreg:\w+)` \|", section, flags=re.MULTILINE))

    assert listed == set(CONTEXT_KEYS)


def test_state_machine_arn_output_names_the_state_machine(
    template: Template, resources: dict
) -> None:
    state_machine, _ = only(of_type(resources, "AWS::StepFunctions::StateMachine"))

    assert template.to_json()["Outputs"]["StateMachineArn"]["Value"] == {"Ref": state_machine}
