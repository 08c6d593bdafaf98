"""What the CDK stack promises, checked on the synthesized CloudFormation template.

Synthesis needs no Docker and no AWS account: the function's image asset is only staged.
It is slow (a Node.js process starts behind aws-cdk-lib), so the module synthesizes two
apps once each, through the same `build_app` that `cdk synth` runs (cdk-nag included):
one with cdk.json's context as it is ("default") and one that sets every `linreg:*` key,
as strings, the way `-c` passes them ("configured").
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from linreg import handler

REPO_ROOT = Path(__file__).resolve().parent.parent
# infra/ holds the CDK app, which is not an installed package.
sys.path.append(str(REPO_ROOT / "infra"))

from app import build_app  # noqa: E402
from linreg_stack import omp_threads_for  # noqa: E402
from settings import CONTEXT_KEYS  # noqa: E402

CDK_JSON_CONTEXT = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
CONFIGURED = {
    "linreg:stackName": "LinregConfigured",
    "linreg:memoryMb": "3538",
    "linreg:timeoutSeconds": "600",
    "linreg:reservedConcurrency": "3",
    "linreg:incomingPrefix": "uploads/",
    "linreg:modelsPrefix": "results/models/",
    "linreg:failuresPrefix": "results/failures/",
    "linreg:learningRate": "0.05",
    "linreg:iterations": "500",
    "linreg:seed": "7",
    "linreg:loss": "sum",
    "linreg:logRetentionDays": "90",
    "linreg:maxEventAgeSeconds": "3600",
    "linreg:noncurrentVersionDays": "30",
    "linreg:accessLogExpirationDays": "180",
    "linreg:destroyOnDelete": "true",
    "linreg:alarmEmail": "ops@example.com",
}

BUCKET = "BUCKET"  # how the data bucket's ARN reads in rendered policy resources
UPLOADED_OBJECT = f"{BUCKET}/incoming/iris.csv"
NAG_RULE = Match.string_like_regexp("AwsSolutions-.*")
# Written out because the README promises exactly these.
OUTPUTS = {
    "BucketName",
    "UploadPrefix",
    "ModelsPrefix",
    "ExampleUploadCommand",
    "FunctionName",
    "LogGroupName",
    "FailureQueueUrl",
}


def synthesize(tmp_path_factory: pytest.TempPathFactory, overrides: dict) -> cdk.Stack:
    context = {**CDK_JSON_CONTEXT, **overrides}
    app = build_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    return synthesize(tmp_path_factory, {})


@pytest.fixture(scope="module")
def configured_stack(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    return synthesize(tmp_path_factory, CONFIGURED)


@pytest.fixture(scope="module", params=["default", "configured"])
def any_stack(request: pytest.FixtureRequest) -> cdk.Stack:
    return request.getfixturevalue(
        {"default": "stack", "configured": "configured_stack"}[request.param]
    )


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def resources(template: Template) -> dict:
    return template.to_json()["Resources"]


@pytest.fixture(scope="module")
def configured_template(configured_stack: cdk.Stack) -> Template:
    return Template.from_stack(configured_stack)


@pytest.fixture(scope="module")
def configured_resources(configured_template: Template) -> dict:
    return configured_template.to_json()["Resources"]


# --- helpers: find things in the template -------------------------------------------------


def only(found: dict) -> tuple[str, dict]:
    assert len(found) == 1, f"expected exactly one, found {sorted(found)}"
    return next(iter(found.items()))


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def of_type(resources: dict, resource_type: str) -> dict:
    return {k: r for k, r in resources.items() if r["Type"] == resource_type}


def bucket_id(resources: dict) -> str:
    """The data bucket: the one that sends its access logs to the other."""
    buckets = of_type(resources, "AWS::S3::Bucket")
    return only({k: r for k, r in buckets.items() if "LoggingConfiguration" in r["Properties"]})[0]


def access_log_bucket_id(resources: dict) -> str:
    logging = resources[bucket_id(resources)]["Properties"]["LoggingConfiguration"]
    return logging["DestinationBucketName"]["Ref"]


def function_id(resources: dict) -> str:
    functions = {
        k: r
        for k, r in of_type(resources, "AWS::Lambda::Function").items()
        if r["Properties"].get("PackageType") == "Image"
    }
    return only(functions)[0]


def function_role_id(resources: dict) -> str:
    return resources[function_id(resources)]["Properties"]["Role"]["Fn::GetAtt"][0]


def render(value: object, bucket: str) -> str:
    """A policy resource as text, with the data bucket's ARN written as BUCKET."""
    if isinstance(value, str):
        return value
    if value == {"Fn::GetAtt": [bucket, "Arn"]}:
        return BUCKET
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part, bucket) for part in parts)
    return json.dumps(value)  # anything else cannot name the bucket's objects


def all_statements(resources: dict) -> list[dict]:
    """Every statement of every IAM policy, inline role policy and resource policy."""
    documents = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] in (
            "AWS::IAM::Policy",
            "AWS::S3::BucketPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
        ):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


def function_statements(resources: dict) -> list[dict]:
    """The statements that reach the training function's role, rendered for reading."""
    role = function_role_id(resources)
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


def notification_filters(resources: dict) -> list[set[tuple[str, str]]]:
    """Each Lambda notification's key filter as {(rule name, value)}; all must target the
    training function on every ObjectCreated event."""
    _, notifications = only(of_type(resources, "Custom::S3BucketNotifications"))
    configuration = notifications["Properties"]["NotificationConfiguration"]
    targets = configuration["LambdaFunctionConfigurations"]
    for target in targets:
        assert target["Events"] == ["s3:ObjectCreated:*"]
        assert target["LambdaFunctionArn"] == {"Fn::GetAtt": [function_id(resources), "Arn"]}
    return [
        {(rule["Name"], rule["Value"]) for rule in target["Filter"]["Key"]["FilterRules"]}
        for target in targets
    ]


def function_environment(resources: dict) -> dict:
    return resources[function_id(resources)]["Properties"]["Environment"]["Variables"]


def alarms_by_metric(resources: dict) -> dict[str, dict]:
    return {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
    }


def nag_suppressions(resources: dict) -> list[tuple[str, dict]]:
    return [
        (logical_id, suppression)
        for logical_id, resource in resources.items()
        for suppression in resource.get("Metadata", {})
        .get("cdk_nag", {})
        .get("rules_to_suppress", [])
    ]


# --- security checks: cdk-nag and cfn-lint ------------------------------------------------


def test_cdk_nag_reports_no_unsuppressed_errors(any_stack: cdk.Stack) -> None:
    errors = Annotations.from_stack(any_stack).find_error("*", NAG_RULE)

    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_cdk_nag_reports_no_unsuppressed_warnings(any_stack: cdk.Stack) -> None:
    warnings = Annotations.from_stack(any_stack).find_warning("*", NAG_RULE)

    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []


def test_every_nag_suppression_is_on_one_resource_with_a_rule_and_a_reason(
    configured_template: Template,
) -> None:
    rendered = configured_template.to_json()
    suppressions = nag_suppressions(rendered["Resources"])

    assert "cdk_nag" not in rendered.get("Metadata", {}), "no stack-wide suppressions"
    assert suppressions
    for logical_id, suppression in suppressions:
        assert re.fullmatch(r"AwsSolutions-\w+", suppression["id"]), logical_id
        assert len(suppression["reason"]) >= 60, (logical_id, suppression)


def test_every_nag_suppression_silences_a_real_finding(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A suppression that matches nothing would hide the next real finding of its rule.
    # With log_ignores, cdk-nag notes each finding it suppressed as an info annotation.
    stack = synthesize(tmp_path_factory, CONFIGURED)
    cdk.Aspects.of(stack).add(AwsSolutionsChecks(log_ignores=True))
    infos = Annotations.from_stack(stack).find_info("*", Match.any_value())
    noted = [(info.id.lstrip("/"), str(info.entry.data)) for info in infos]
    resources = Template.from_stack(stack).to_json()["Resources"]
    paths = {
        stack.resolve(construct.logical_id): construct.node.path
        for construct in stack.node.find_all()
        if isinstance(construct, cdk.CfnResource)
    }

    for logical_id, suppression in nag_suppressions(resources):
        path = paths[logical_id]
        for finding in suppression.get("applies_to") or [None]:
            note = f"CdkNagSuppression{f'[{finding}]' if finding else ''}: {suppression['id']} "
            assert any(where == path and note in text for where, text in noted), (path, note)


def lint(template: Template, tmp_path: Path) -> list:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template.to_json()))
    return lint_file(path, config=ManualArgs(regions=["us-east-1"]))


def test_cfn_lint_finds_no_errors(any_stack: cdk.Stack, tmp_path: Path) -> None:
    matches = lint(Template.from_stack(any_stack), tmp_path)

    assert [str(m) for m in matches if m.rule.id.startswith("E")] == []


def test_cfn_lint_warns_only_about_cdks_redundant_depends_on(
    any_stack: cdk.Stack, tmp_path: Path
) -> None:
    # W3005: CDK adds DependsOn next to a GetAtt that already implies it. Harmless.
    matches = lint(Template.from_stack(any_stack), tmp_path)

    assert [str(m) for m in matches if m.rule.id not in ("W3005",)] == []


# --- the trigger --------------------------------------------------------------------------


def test_csv_and_gzipped_csv_created_under_incoming_trigger_the_function(
    resources: dict,
) -> None:
    assert sorted(map(sorted, notification_filters(resources))) == [
        [("prefix", "incoming/"), ("suffix", ".csv")],
        [("prefix", "incoming/"), ("suffix", ".csv.gz")],
    ]


def test_trigger_follows_the_configured_upload_prefix(configured_resources: dict) -> None:
    prefixes = {
        value
        for rules in notification_filters(configured_resources)
        for name, value in rules
        if name == "prefix"
    }

    assert prefixes == {"uploads/"}


# --- the function -------------------------------------------------------------------------


def test_function_is_an_x86_64_container_image(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "Architectures": ["x86_64"]}
    )


def test_function_defaults_to_measured_memory_and_five_minutes(resources: dict) -> None:
    properties = resources[function_id(resources)]["Properties"]

    assert (properties["MemorySize"], properties["Timeout"]) == (2048, 300)
    assert "ReservedConcurrentExecutions" not in properties


def test_function_size_and_concurrency_follow_the_context(configured_resources: dict) -> None:
    properties = configured_resources[function_id(configured_resources)]["Properties"]

    assert properties["MemorySize"] == 3538
    assert properties["Timeout"] == 600
    assert properties["ReservedConcurrentExecutions"] == 3


def test_function_environment_names_the_bucket_layout(resources: dict) -> None:
    environment = function_environment(resources)

    assert environment["INCOMING_PREFIX"] == "incoming/"
    assert environment["MODELS_PREFIX"] == "models/"
    assert environment["FAILURES_PREFIX"] == "failures/"
    assert environment["OMP_NUM_THREADS"] == str(omp_threads_for(2048))


def test_function_environment_keeps_numpy_blas_on_one_thread(resources: dict) -> None:
    assert function_environment(resources)["OPENBLAS_NUM_THREADS"] == "1"


def test_function_environment_sets_powertools_service_namespace_and_level(
    resources: dict,
) -> None:
    environment = function_environment(resources)

    assert environment["POWERTOOLS_SERVICE_NAME"] == "linreg"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Linreg"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_hyperparameters_are_empty_so_the_library_defaults_apply(resources: dict) -> None:
    environment = function_environment(resources)
    names = ("LINREG_LEARNING_RATE", "LINREG_ITERATIONS", "LINREG_SEED", "LINREG_LOSS")

    assert {name: environment[name] for name in names} == dict.fromkeys(names, "")


def test_configured_hyperparameters_and_prefixes_reach_the_environment(
    configured_resources: dict,
) -> None:
    environment = function_environment(configured_resources)

    assert environment["LINREG_LEARNING_RATE"] == "0.05"
    assert environment["LINREG_ITERATIONS"] == "500"
    assert environment["LINREG_SEED"] == "7"
    assert environment["LINREG_LOSS"] == "sum"
    assert environment["INCOMING_PREFIX"] == "uploads/"
    assert environment["MODELS_PREFIX"] == "results/models/"
    assert environment["FAILURES_PREFIX"] == "results/failures/"
    assert environment["OMP_NUM_THREADS"] == "2"  # 3538 MB: two whole vCPUs


@pytest.mark.parametrize(
    ("memory_mb", "threads"), [(128, 1), (1024, 1), (1769, 1), (3538, 2), (10240, 5)]
)
def test_omp_threads_never_exceed_whole_lambda_vcpus(memory_mb: int, threads: int) -> None:
    assert omp_threads_for(memory_mb) == threads


def test_lambda_terminates_recursive_loops(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "RecursiveLoop": "Terminate"}
    )


def test_function_logs_as_json_to_its_own_log_group_kept_one_month(resources: dict) -> None:
    log_group, properties = only(of_type(resources, "AWS::Logs::LogGroup"))
    logging = resources[function_id(resources)]["Properties"]["LoggingConfig"]

    assert logging == {"LogFormat": "JSON", "LogGroup": {"Ref": log_group}}
    assert properties["Properties"]["RetentionInDays"] == 30


def test_log_retention_follows_the_context(configured_resources: dict) -> None:
    _, log_group = only(of_type(configured_resources, "AWS::Logs::LogGroup"))

    assert log_group["Properties"]["RetentionInDays"] == 90


# --- async invocation and the failure queue -----------------------------------------------


def test_async_events_are_retried_twice_then_sent_to_the_failure_queue(resources: dict) -> None:
    _, config = only(of_type(resources, "AWS::Lambda::EventInvokeConfig"))
    queue, _ = only(of_type(resources, "AWS::SQS::Queue"))
    properties = config["Properties"]

    assert properties["FunctionName"] == {"Ref": function_id(resources)}
    assert properties["MaximumRetryAttempts"] == 2
    assert properties["MaximumEventAgeInSeconds"] == 6 * 3600
    assert properties["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}
    }


def test_max_event_age_follows_the_context(configured_resources: dict) -> None:
    _, config = only(of_type(configured_resources, "AWS::Lambda::EventInvokeConfig"))

    assert config["Properties"]["MaximumEventAgeInSeconds"] == 3600


def test_failure_queue_is_encrypted_and_keeps_messages_14_days(resources: dict) -> None:
    _, queue = only(of_type(resources, "AWS::SQS::Queue"))

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_failure_queue_denies_requests_without_tls(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy", {"PolicyDocument": {"Statement": [tls_only_statement("sqs:*")]}}
    )


def test_function_may_send_to_the_failure_queue(resources: dict) -> None:
    queue, _ = only(of_type(resources, "AWS::SQS::Queue"))
    statements = allowed(function_statements(resources), "sqs:SendMessage")

    assert [s["Resource"] for s in statements] == [[json.dumps({"Fn::GetAtt": [queue, "Arn"]})]]


# --- the function's permissions -----------------------------------------------------------


def test_function_writes_only_under_models_and_failures(resources: dict) -> None:
    statements = allowed(function_statements(resources), "s3:PutObject")
    written = {resource for s in statements for resource in s["Resource"]}

    assert written == {f"{BUCKET}/models/*", f"{BUCKET}/failures/*"}


def test_function_reads_only_uploads_and_its_own_outputs(resources: dict) -> None:
    # Its outputs: latest.json, and a run's report or failure record (duplicate deliveries).
    statements = allowed(function_statements(resources), "s3:GetObject")
    read = {resource for s in statements for resource in s["Resource"]}

    assert read == {f"{BUCKET}/incoming/*", f"{BUCKET}/models/*", f"{BUCKET}/failures/*"}


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
        f"{BUCKET}/uploads/*",
        f"{BUCKET}/results/models/*",
        f"{BUCKET}/results/failures/*",
    }
    assert written == {f"{BUCKET}/results/models/*", f"{BUCKET}/results/failures/*"}


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
        assert statement["Resource"] == [BUCKET]
        assert "Condition" not in statement


# The same statements, enforced: moto checks each S3 call of a real handler run against them.
# (moto does not model S3's 403-for-404 without s3:ListBucket; the test above covers that.)

SAMPLE_EVENT = json.loads((REPO_ROOT / "events" / "s3-put.json").read_text())
EVENT_BUCKET = SAMPLE_EVENT["Records"][0]["s3"]["bucket"]["name"]


def s3_event(key: str) -> dict:
    (record,) = SAMPLE_EVENT["Records"]
    return {"Records": [{**record, "s3": {**record["s3"], "object": {"key": key}}}]}


@pytest.fixture
def clients(aws_env, resources: dict) -> Iterator[tuple]:
    """(admin, function): two S3 clients on a moto bucket holding the sample upload. The
    function client belongs to an IAM user with exactly the function role's S3 statements;
    they bind only inside `enable_iam_authentication()`."""
    arn = f"arn:aws:s3:::{EVENT_BUCKET}"
    statements = [
        {**s, "Resource": [r.replace(BUCKET, arn, 1) for r in s["Resource"]]}
        for s in function_statements(resources)
        if all(action.startswith("s3:") for action in s["Action"])
    ]
    with mock_aws():
        admin = boto3.client("s3", region_name="us-east-1")
        admin.create_bucket(Bucket=EVENT_BUCKET)
        admin.put_object(
            Bucket=EVENT_BUCKET,
            Key="incoming/iris.csv",
            Body=(REPO_ROOT / "data/iris.csv").read_bytes(),
        )
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
        yield admin, function


def test_function_policy_allows_a_whole_run(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(s3_event("incoming/iris.csv"), s3=function, env={})

    assert outcome["status"] == "succeeded"


def test_function_policy_allows_recognizing_a_redelivered_event(clients: tuple) -> None:
    _, function = clients
    event = s3_event("incoming/iris.csv")

    with enable_iam_authentication():
        handler.handle_event(event, s3=function, env={})
        (again,) = handler.handle_event(event, s3=function, env={})

    assert (again["status"], again.get("duplicate")) == ("succeeded", True)


def test_function_policy_allows_recording_a_failed_run(clients: tuple) -> None:
    admin, function = clients
    admin.put_object(Bucket=EVENT_BUCKET, Key="incoming/bad.csv", Body=b"not,an,iris\n1,2,3\n")

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(s3_event("incoming/bad.csv"), s3=function, env={})

    assert admin.head_object(Bucket=EVENT_BUCKET, Key=outcome["failure_key"])


def test_function_policy_refuses_writing_an_upload(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=EVENT_BUCKET, Key="incoming/loop.csv", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_no_policy_allows_every_s3_action(resources: dict) -> None:
    broad = [
        s
        for s in all_statements(resources)
        if s["Effect"] == "Allow" and {"*", "s3:*"} & set(as_list(s["Action"]))
    ]

    assert broad == []


# --- the buckets --------------------------------------------------------------------------


def tls_only_statement(action: str) -> object:
    return Match.object_like(
        {
            "Effect": "Deny",
            "Action": action,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def bucket_policy_statements(resources: dict, bucket: str) -> list[dict]:
    (policy,) = [
        r
        for r in of_type(resources, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("which", [bucket_id, access_log_bucket_id], ids=["data", "access-log"])
def test_bucket_denies_requests_without_tls(resources: dict, which) -> None:
    denials = [
        s
        for s in bucket_policy_statements(resources, which(resources))
        if s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]

    assert len(denials) == 1


@pytest.mark.parametrize("which", [bucket_id, access_log_bucket_id], ids=["data", "access-log"])
def test_bucket_blocks_all_public_access(resources: dict, which) -> None:
    properties = resources[which(resources)]["Properties"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("which", [bucket_id, access_log_bucket_id], ids=["data", "access-log"])
def test_bucket_is_encrypted_with_s3_managed_keys(resources: dict, which) -> None:
    encryption = resources[which(resources)]["Properties"]["BucketEncryption"]

    assert encryption["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]


def test_bucket_versioning_is_enabled(resources: dict) -> None:
    properties = resources[bucket_id(resources)]["Properties"]

    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


def test_old_versions_expire_and_incomplete_uploads_are_aborted(resources: dict) -> None:
    (rule,) = resources[bucket_id(resources)]["Properties"]["LifecycleConfiguration"]["Rules"]

    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_bucket_lifecycles_follow_the_context(configured_resources: dict) -> None:
    data = configured_resources[bucket_id(configured_resources)]
    logs = configured_resources[access_log_bucket_id(configured_resources)]
    (data_rule,) = data["Properties"]["LifecycleConfiguration"]["Rules"]
    (log_rule,) = logs["Properties"]["LifecycleConfiguration"]["Rules"]

    assert data_rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert log_rule["ExpirationInDays"] == 180


def test_access_logs_go_to_the_log_bucket_which_expires_them(resources: dict) -> None:
    log_bucket = resources[access_log_bucket_id(resources)]
    (rule,) = log_bucket["Properties"]["LifecycleConfiguration"]["Rules"]

    assert log_bucket["Type"] == "AWS::S3::Bucket"
    assert rule["ExpirationInDays"] == 365
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


@pytest.mark.parametrize("which", [bucket_id, access_log_bucket_id], ids=["data", "access-log"])
def test_bucket_is_retained_when_the_stack_is_deleted(resources: dict, which) -> None:
    bucket = resources[which(resources)]

    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert of_type(resources, "Custom::S3AutoDeleteObjects") == {}


def test_destroy_on_delete_empties_and_deletes_both_buckets(configured_resources: dict) -> None:
    emptied = {
        r["Properties"]["BucketName"]["Ref"]
        for r in of_type(configured_resources, "Custom::S3AutoDeleteObjects").values()
    }

    assert emptied == {bucket_id(configured_resources), access_log_bucket_id(configured_resources)}
    for bucket in emptied:
        assert configured_resources[bucket]["DeletionPolicy"] == "Delete"


# --- alarms -------------------------------------------------------------------------------


def test_alarms_fire_on_errors_throttles_queued_failures_and_failed_runs(resources: dict) -> None:
    alarms = alarms_by_metric(resources)

    assert set(alarms) == {
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "RunsFailed",
    }
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_failed_runs_alarm_watches_the_library_metric(resources: dict) -> None:
    alarm = alarms_by_metric(resources)["RunsFailed"]

    assert alarm["Namespace"] == "Linreg"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "linreg"}]
    assert alarm["Statistic"] == "Sum"


def test_alarms_notify_no_one_without_an_email(resources: dict) -> None:
    assert of_type(resources, "AWS::SNS::Topic") == {}
    for alarm in alarms_by_metric(resources).values():
        assert "AlarmActions" not in alarm


def test_alarm_email_subscribes_to_a_topic_every_alarm_notifies(
    configured_resources: dict,
) -> None:
    topic, _ = only(of_type(configured_resources, "AWS::SNS::Topic"))
    _, subscription = only(of_type(configured_resources, "AWS::SNS::Subscription"))

    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    for alarm in alarms_by_metric(configured_resources).values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    configured_resources: dict,
) -> None:
    _, topic = only(of_type(configured_resources, "AWS::SNS::Topic"))
    key_id, key = only(of_type(configured_resources, "AWS::KMS::Key"))
    for_cloudwatch = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert sorted(as_list(for_cloudwatch[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_alarm_topic_denies_publishing_without_tls(configured_template: Template) -> None:
    configured_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([tls_only_statement("sns:Publish")])}},
    )


# --- outputs and documentation ------------------------------------------------------------


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


def readme_deploy_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return readme.split("## Deploy to AWS", 1)[1].split("\n## ", 1)[0]


def test_readme_documents_every_stack_output() -> None:
    section = readme_deploy_section()

    assert [name for name in sorted(OUTPUTS) if f"`{name}`" not in section] == []


def test_readme_documents_every_context_key() -> None:
    section = readme_deploy_section()

    assert [key for key in sorted(CONTEXT_KEYS) if f"`{key}`" not in section] == []
