"""The stack's outputs, and the deploy documentation that lists them and the context keys."""

from __future__ import annotations

from aws_cdk.assertions import Template

from helpers import ROOT
from settings import CONTEXT_KEYS
from template import bucket_id

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
    "FailureQueueUrl",
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


def test_readme_documents_every_stack_output() -> None:
    section = deploy_section()

    assert [name for name in sorted(OUTPUTS) if f"`{name}`" not in section] == []


def test_readme_documents_every_context_key() -> None:
    section = deploy_section()

    assert [key for key in sorted(CONTEXT_KEYS) if f"`{key}`" not in section] == []
