"""What the CDK stack promises, checked on the synthesized CloudFormation template.

Synthesis needs no Docker and no AWS account: the function's image asset is only staged.
It is slow (a Node.js process starts behind aws-cdk-lib), so the module builds it once.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

REPO_ROOT = Path(__file__).resolve().parent.parent
# infra/ holds the CDK app, which is not an installed package.
sys.path.append(str(REPO_ROOT / "infra"))

from linreg_stack import LinregStack, omp_threads_for  # noqa: E402

BUCKET = "BUCKET"  # how the bucket's ARN reads in rendered policy resources
UPLOADED_OBJECT = f"{BUCKET}/incoming/iris.csv"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    # The same context (feature flags included) that `cdk synth` reads from cdk.json.
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = LinregStack(app, "LinregTest", lambda_src_dir=REPO_ROOT / "lambda_src")
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def resources(template: Template) -> dict:
    return template.to_json()["Resources"]


# --- helpers: find things in the template -------------------------------------------------


def only(found: dict) -> tuple[str, dict]:
    assert len(found) == 1, f"expected exactly one, found {sorted(found)}"
    return next(iter(found.items()))


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def bucket_id(resources: dict) -> str:
    return only({k: r for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket"})[0]


def function_id(resources: dict) -> str:
    functions = {
        k: r
        for k, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("PackageType") == "Image"
    }
    return only(functions)[0]


def render(value: object, bucket: str) -> str:
    """A policy resource as text, with the bucket's ARN written as BUCKET."""
    if isinstance(value, str):
        return value
    if value == {"Fn::GetAtt": [bucket, "Arn"]}:
        return BUCKET
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part, bucket) for part in parts)
    return json.dumps(value)  # anything else cannot name the bucket's objects


def all_statements(resources: dict) -> list[dict]:
    """Every statement of every IAM policy, inline role policy and bucket policy."""
    documents = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::S3::BucketPolicy"):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


def function_statements(resources: dict) -> list[dict]:
    """The statements that reach the training function's role, rendered for reading."""
    role = resources[function_id(resources)]["Properties"]["Role"]["Fn::GetAtt"][0]
    bucket = bucket_id(resources)
    statements = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        attached = {"Ref": role} in properties.get("Roles", [])
        if resource["Type"] == "AWS::IAM::Policy" and attached:
            statements += properties["PolicyDocument"]["Statement"]
    statements += [
        statement
        for policy in resources[role]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        # NotAction / NotResource would grant everything else: never expected here.
        assert "NotAction" not in statement and "NotResource" not in statement, statement
    return [
        {
            **statement,
            "Action": as_list(statement["Action"]),
            "Resource": [render(r, bucket) for r in as_list(statement["Resource"])],
        }
        for statement in statements
    ]


def allowed(statements: list[dict], action: str) -> list[dict]:
    return [s for s in statements if s["Effect"] == "Allow" and action in s["Action"]]


# --- the trigger --------------------------------------------------------------------------


def test_csv_created_under_incoming_triggers_the_function(resources: dict) -> None:
    _, notifications = only(
        {k: r for k, r in resources.items() if r["Type"] == "Custom::S3BucketNotifications"}
    )
    configuration = notifications["Properties"]["NotificationConfiguration"]
    (target,) = configuration["LambdaFunctionConfigurations"]
    rules = {(rule["Name"], rule["Value"]) for rule in target["Filter"]["Key"]["FilterRules"]}

    assert target["Events"] == ["s3:ObjectCreated:*"]
    assert rules == {("prefix", "incoming/"), ("suffix", ".csv")}
    assert target["LambdaFunctionArn"] == {"Fn::GetAtt": [function_id(resources), "Arn"]}


# --- the function -------------------------------------------------------------------------


def test_function_is_an_x86_64_container_image(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "Architectures": ["x86_64"]}
    )


def test_function_environment_names_the_bucket_layout(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "MemorySize": 1024,
            "Environment": {
                "Variables": {
                    "INCOMING_PREFIX": "incoming/",
                    "MODELS_PREFIX": "models/",
                    "FAILURES_PREFIX": "failures/",
                    "OMP_NUM_THREADS": str(omp_threads_for(1024)),
                    "POWERTOOLS_SERVICE_NAME": "linreg",
                }
            },
        },
    )


@pytest.mark.parametrize(
    ("memory_mb", "threads"), [(128, 1), (1024, 1), (1769, 1), (3538, 2), (10240, 5)]
)
def test_omp_threads_never_exceed_whole_lambda_vcpus(memory_mb: int, threads: int) -> None:
    assert omp_threads_for(memory_mb) == threads


# --- the function's permissions -----------------------------------------------------------


def test_function_writes_only_under_models_and_failures(resources: dict) -> None:
    statements = allowed(function_statements(resources), "s3:PutObject")
    written = {resource for s in statements for resource in s["Resource"]}

    assert written == {f"{BUCKET}/models/*", f"{BUCKET}/failures/*"}


def test_function_may_only_get_uploads(resources: dict) -> None:
    # Any write to incoming/ would let the function trigger itself.
    covering_uploads = [
        s
        for s in function_statements(resources)
        if s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(UPLOADED_OBJECT, r) for r in s["Resource"])
    ]

    assert covering_uploads, "the function must be able to read its uploads"
    for statement in covering_uploads:
        assert all(action.startswith("s3:Get") for action in statement["Action"]), statement


def test_function_role_has_no_managed_policy_beyond_logging(resources: dict) -> None:
    role = resources[function_id(resources)]["Properties"]["Role"]["Fn::GetAtt"][0]
    managed = json.dumps(resources[role]["Properties"].get("ManagedPolicyArns", []))

    assert managed.count("arn:") == 1
    assert "service-role/AWSLambdaBasicExecutionRole" in managed


def test_function_may_list_the_bucket_so_missing_keys_read_as_404(resources: dict) -> None:
    statements = allowed(function_statements(resources), "s3:ListBucket")

    assert statements, "without s3:ListBucket a missing key reads as 403, not 404"
    assert all(statement["Resource"] == [BUCKET] for statement in statements)


def test_no_policy_allows_every_s3_action(resources: dict) -> None:
    broad = [
        s
        for s in all_statements(resources)
        if s["Effect"] == "Allow" and {"*", "s3:*"} & set(as_list(s["Action"]))
    ]

    assert broad == []


# --- the bucket ---------------------------------------------------------------------------


def test_bucket_policy_denies_requests_without_tls(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_bucket_versioning_is_enabled(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket", {"VersioningConfiguration": {"Status": "Enabled"}}
    )


def test_bucket_blocks_all_public_access(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        },
    )


def test_bucket_is_retained_when_the_stack_is_deleted(template: Template) -> None:
    template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
