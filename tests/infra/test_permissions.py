"""What the training function's role may do: read from the template, then enforced.

The enforced half replays the role's S3 statements through moto: an IAM user with exactly
those statements runs the real handler, and moto checks each of its S3 calls against them.
(moto does not model S3's 403-for-404 without s3:ListBucket; a template test covers that.)
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication

from helpers import BUCKET, event_for
from linreg import handler
from template import (
    DATA_BUCKET,
    all_statements,
    allowed,
    as_list,
    function_role_id,
    function_statements,
    of_type,
    only,
)

UPLOADED_OBJECT = f"{DATA_BUCKET}/incoming/iris.csv"


# --- read from the template ---------------------------------------------------------------


def test_function_writes_only_under_models_and_failures(resources: dict) -> None:
    statements = allowed(function_statements(resources), "s3:PutObject")
    written = {resource for s in statements for resource in s["Resource"]}

    assert written == {f"{DATA_BUCKET}/models/*", f"{DATA_BUCKET}/failures/*"}


def test_function_reads_only_uploads_and_its_own_outputs(resources: dict) -> None:
    # Its outputs: latest.json, and a run's report or failure record (duplicate deliveries).
    statements = allowed(function_statements(resources), "s3:GetObject")
    read = {resource for s in statements for resource in s["Resource"]}

    assert read == {
        f"{DATA_BUCKET}/incoming/*",
        f"{DATA_BUCKET}/models/*",
        f"{DATA_BUCKET}/failures/*",
    }


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


def test_permissions_follow_the_configured_prefixes(configured_resources: dict) -> None:
    statements = function_statements(configured_resources)
    read = {r for s in allowed(statements, "s3:GetObject") for r in s["Resource"]}
    written = {r for s in allowed(statements, "s3:PutObject") for r in s["Resource"]}

    assert read == {
        f"{DATA_BUCKET}/uploads/*",
        f"{DATA_BUCKET}/results/models/*",
        f"{DATA_BUCKET}/results/failures/*",
    }
    assert written == {f"{DATA_BUCKET}/results/models/*", f"{DATA_BUCKET}/results/failures/*"}


def test_function_role_has_no_managed_policy(resources: dict) -> None:
    # Not even AWSLambdaBasicExecutionRole, which may write to every log group.
    role = resources[function_role_id(resources)]

    assert "ManagedPolicyArns" not in role["Properties"]


def test_function_may_write_logs_only_to_its_own_log_group(resources: dict) -> None:
    log_group, _ = only(of_type(resources, "AWS::Logs::LogGroup"))
    statements = [
        s
        for s in function_statements(resources)
        if any(action.startswith("logs:") for action in s["Action"])
    ]

    assert [(sorted(s["Action"]), s["Resource"]) for s in statements] == [
        (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [json.dumps({"Fn::GetAtt": [log_group, "Arn"]})],
        )
    ]


def test_function_may_list_the_bucket_unconditionally_so_missing_keys_read_as_404(
    resources: dict,
) -> None:
    # A GET carries no s3:prefix: any condition on it would turn 404s back into 403s.
    statements = allowed(function_statements(resources), "s3:ListBucket")

    assert statements, "without s3:ListBucket a missing key reads as 403, not 404"
    for statement in statements:
        assert statement["Resource"] == [DATA_BUCKET]
        assert "Condition" not in statement


def test_function_may_send_to_the_failure_queue(resources: dict) -> None:
    queue, _ = only(of_type(resources, "AWS::SQS::Queue"))
    statements = allowed(function_statements(resources), "sqs:SendMessage")

    assert [s["Resource"] for s in statements] == [[json.dumps({"Fn::GetAtt": [queue, "Arn"]})]]


def test_no_policy_allows_every_s3_action(resources: dict) -> None:
    broad = [
        s
        for s in all_statements(resources)
        if s["Effect"] == "Allow" and {"*", "s3:*"} & set(as_list(s["Action"]))
    ]

    assert broad == []


# --- enforced: the real handler under the role's S3 statements ----------------------------


@pytest.fixture
def clients(s3, resources: dict, iris_bytes: bytes) -> Iterator[tuple]:
    """(admin, function): two S3 clients on the moto test bucket, which holds the sample
    upload at incoming/iris.csv. The function client belongs to an IAM user with exactly
    the function role's S3 statements; they bind only inside `enable_iam_authentication()`."""
    arn = f"arn:aws:s3:::{BUCKET}"
    statements = [
        {**s, "Resource": [r.replace(DATA_BUCKET, arn, 1) for r in s["Resource"]]}
        for s in function_statements(resources)
        if all(action.startswith("s3:") for action in s["Action"])
    ]
    s3.put_object(Bucket=BUCKET, Key="incoming/iris.csv", Body=iris_bytes)
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="train-function")
    iam.put_user_policy(
        UserName="train-function",
        PolicyName="function-role-s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName="train-function")["AccessKey"]
    function = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    yield s3, function


def test_function_policy_allows_a_whole_run(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})

    assert outcome["status"] == "succeeded"


def test_function_policy_allows_recognizing_a_redelivered_event(clients: tuple) -> None:
    _, function = clients
    event = event_for("incoming/iris.csv")

    with enable_iam_authentication():
        handler.handle_event(event, s3=function, env={})
        (again,) = handler.handle_event(event, s3=function, env={})

    assert (again["status"], again.get("duplicate")) == ("succeeded", True)


def test_function_policy_allows_recording_a_failed_run(clients: tuple) -> None:
    admin, function = clients
    admin.put_object(Bucket=BUCKET, Key="incoming/bad.csv", Body=b"not,an,iris\n1,2,3\n")

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(event_for("incoming/bad.csv"), s3=function, env={})

    assert admin.head_object(Bucket=BUCKET, Key=outcome["failure_key"])


def test_function_policy_refuses_writing_an_upload(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key="incoming/loop.csv", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"
