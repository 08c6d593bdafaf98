"""What the training function's role may do: read from the template, then enforced.

The enforced half replays the role's S3 statements through moto: an IAM user with exactly
those statements runs the real handler, and moto checks each of its S3 calls against them.
(moto does not model S3's 403-for-404 without s3:ListBucket; a template test covers that.
Nor does moto evaluate the Null conditions on s3:if-none-match and s3:if-match: it ignores
them, so the replay evaluates them itself, from each request's headers (`header_conditions`);
write-once is also checked on the template, with IAM's wildcard rules.)
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication
from moto.iam import access_control

from helpers import BUCKET, event_for
from linreg import handler
from linreg.contract import (
    DISTRIBUTED_FOLDER,
    EVENT_DETAIL_TYPE,
    EVENT_FILE,
    EVENT_SOURCE,
    LATEST_FILE,
    MODEL_PAGE_FILE,
    REPORT_FILE,
    RUN_FILES,
)
from template import (
    DATA_BUCKET,
    all_statements,
    allowed,
    as_list,
    function_log_group_id,
    function_role_id,
    function_statements,
    iam_matches,
    of_type,
    role_statements,
    trigger_queue_id,
)

UPLOADED_OBJECT = f"{DATA_BUCKET}/incoming/iris.csv"
# The condition that lets a PutObject through only with that header: the key is not null.
ONLY_WITH = {
    header: {"Null": {f"s3:{header}": "false"}} for header in ("if-none-match", "if-match")
}


@pytest.fixture(params=["default", "configured"])
def app_statements(request: pytest.FixtureRequest) -> tuple[list[dict], str, str]:
    """Either app's function statements, with its models and failures prefixes."""
    if request.param == "default":
        return function_statements(request.getfixturevalue("resources")), "models/", "failures/"
    resources = request.getfixturevalue("configured_resources")
    return function_statements(resources), "results/models/", "results/failures/"


def writes(statements: list[dict]) -> list[tuple[str, str | None]]:
    """(resource, condition as JSON or None) for each resource an Allow grants PutObject."""
    return sorted(
        (resource, json.dumps(s["Condition"], sort_keys=True) if "Condition" in s else None)
        for s in allowed(statements, "s3:PutObject")
        for resource in s["Resource"]
    )


def conditions_on(statements: list[dict], resource: str) -> list[dict | None]:
    """The condition of each PutObject Allow that names ``resource`` (None: unconditional)."""
    return [
        s.get("Condition") for s in allowed(statements, "s3:PutObject") if resource in s["Resource"]
    ]


def expected_writes(
    models: str, failures: str, predictions: str = "predictions/"
) -> list[tuple[str, str | None]]:
    """Every PutObject grant the write-once design asks for, in ``writes`` form."""
    if_none_match = json.dumps(ONLY_WITH["if-none-match"], sort_keys=True)
    if_match = json.dumps(ONLY_WITH["if-match"], sort_keys=True)
    models, failures = f"{DATA_BUCKET}/{models}", f"{DATA_BUCKET}/{failures}"
    predictions = f"{DATA_BUCKET}/{predictions}"
    return sorted(
        [(f"{models}*/{name}", None) for name in RUN_FILES]
        + [(f"{models}*/{DISTRIBUTED_FOLDER}*", None)]
        + [
            (f"{models}*/{REPORT_FILE}", if_none_match),
            (f"{models}*/{EVENT_FILE}", if_none_match),
            (f"{models}*/{LATEST_FILE}", if_match),
            (f"{models}*/{LATEST_FILE}", if_none_match),
            (f"{models}*/{MODEL_PAGE_FILE}", if_match),
            (f"{models}*/{MODEL_PAGE_FILE}", if_none_match),
            (f"{failures}*", if_none_match),
            (f"{predictions}*", if_match),
            (f"{predictions}*", if_none_match),
        ]
    )


# --- read from the template ---------------------------------------------------------------


def test_function_writes_only_its_run_files_reports_latest_failure_records_and_predictions(
    resources: dict,
) -> None:
    assert writes(function_statements(resources)) == expected_writes("models/", "failures/")


def test_run_files_may_be_written_unconditionally(resources: dict) -> None:
    statements = function_statements(resources)

    for name in RUN_FILES:
        assert conditions_on(statements, f"{DATA_BUCKET}/models/*/{name}") == [None], name


def test_report_may_be_written_only_if_absent(resources: dict) -> None:
    # report.json marks a run complete: it must never replace another delivery's.
    conditions = conditions_on(
        function_statements(resources), f"{DATA_BUCKET}/models/*/report.json"
    )

    assert conditions == [ONLY_WITH["if-none-match"]]


def test_latest_may_be_written_only_as_a_compare_and_swap_or_a_first_write(
    resources: dict,
) -> None:
    # Two statements, one per header: a single one with both keys would need both at once.
    conditions = conditions_on(
        function_statements(resources), f"{DATA_BUCKET}/models/*/latest.json"
    )

    assert sorted(conditions, key=json.dumps) == sorted(ONLY_WITH.values(), key=json.dumps)


def test_model_page_may_be_written_only_as_a_compare_and_swap_or_a_first_write(
    resources: dict,
) -> None:
    # As latest.json: a writer with a stale list of runs must not replace a newer page.
    conditions = conditions_on(function_statements(resources), f"{DATA_BUCKET}/models/*/index.html")

    assert sorted(conditions, key=json.dumps) == sorted(ONLY_WITH.values(), key=json.dumps)


def test_a_runs_event_claim_may_be_written_only_if_absent(resources: dict) -> None:
    # The delivery whose write creates event.json is the one that puts the event: a write
    # that could replace it would let a redelivery put it again.
    conditions = conditions_on(function_statements(resources), f"{DATA_BUCKET}/models/*/event.json")

    assert conditions == [ONLY_WITH["if-none-match"]]


@pytest.mark.parametrize("app", ["default", "configured"])
def test_an_event_claim_beside_a_failure_record_falls_under_the_failures_grant(
    request: pytest.FixtureRequest, app: str
) -> None:
    # failures/<name>/<run_id>.event.json: no grant of its own, the failure records' covers it.
    resources = request.getfixturevalue({"default": "resources"}.get(app, "configured_resources"))
    failures = {"default": "failures/", "configured": "results/failures/"}[app]
    key = f"{DATA_BUCKET}/{failures}iris/20261204T101500Z-0123456789ab.{EVENT_FILE}"
    covering = [
        s.get("Condition")
        for s in allowed(function_statements(resources), "s3:PutObject")
        if any(iam_matches(key, resource) for resource in s["Resource"])
    ]

    assert covering == [ONLY_WITH["if-none-match"]]


def test_predictions_may_be_written_only_as_a_compare_and_swap_or_a_first_write(
    resources: dict,
) -> None:
    # A late older upload must not replace a newer one's predictions.
    conditions = conditions_on(function_statements(resources), f"{DATA_BUCKET}/predictions/*")

    assert sorted(conditions, key=json.dumps) == sorted(ONLY_WITH.values(), key=json.dumps)


def test_failure_records_may_be_written_only_if_absent(resources: dict) -> None:
    conditions = conditions_on(function_statements(resources), f"{DATA_BUCKET}/failures/*")

    assert conditions == [ONLY_WITH["if-none-match"]]


def test_write_once_follows_the_configured_prefixes(configured_resources: dict) -> None:
    statements = function_statements(configured_resources)

    assert writes(statements) == expected_writes(
        "results/models/", "results/failures/", "results/predictions/"
    )


@pytest.mark.parametrize(
    "outcome",
    [
        "{models}iris/0123abcd/report.json",
        "{models}iris/0123abcd/event.json",
        "{models}a/b/0123abcd/event.json",
        "{failures}iris/0123abcd.event.json",
        "{models}iris/latest.json",
        "{models}a/b/c/latest.json",
        "{models}iris/index.html",
        "{models}a/b/c/index.html",
        "{failures}iris/0123abcd.json",
        "{failures}x/report.json",
        "{failures}_predictions/iris/a.csv/0123abcd.json",
        "{predictions}iris/a.csv",
        "{predictions}a/b/params.json",
    ],
)
def test_no_unconditional_write_reaches_a_report_latest_failure_record_or_predictions(
    app_statements: tuple[list[dict], str, str], outcome: str
) -> None:
    # IAM Allows add up: one unconditional pattern matching these keys would make the
    # conditions above pointless. In a resource ARN, * also matches "/".
    statements, models, failures = app_statements
    predictions = models.replace("models/", "predictions/")
    key = f"{DATA_BUCKET}/" + outcome.format(
        models=models, failures=failures, predictions=predictions
    )
    unconditional = [
        resource
        for s in allowed(statements, "s3:PutObject")
        if "Condition" not in s
        for resource in s["Resource"]
        if iam_matches(key, resource)
    ]

    assert unconditional == []


def test_function_policy_has_no_deny(resources: dict) -> None:
    # Allow-only by design: moto's replay below reads an unmatched Deny as a denial.
    assert [s for s in function_statements(resources) if s["Effect"] != "Allow"] == []


@pytest.mark.parametrize(
    ("key", "pattern", "matches"),
    [
        ("B/models/iris/r/report.json", "B/models/*/report.json", True),
        ("B/models/iris/latest.json", "B/models/*/report.json", False),
        ("B/models/report.json", "B/models/*/report.json", False),
        ("B/models/a/b/params.json", "B/models/*/params.json", True),
        ("B/models/x/params.jsonx", "B/models/*/params.json", False),
        ("B/models/[a]/latest.json", "B/models/[a]/latest.json", True),
        ("B/Models/x/latest.json", "B/models/*/latest.json", False),
    ],
)
def test_iam_wildcards_match_as_iam_does(key: str, pattern: str, matches: bool) -> None:
    # The helper the write-once test relies on: * spans "/", brackets are literal.
    assert iam_matches(key, pattern) is matches


def test_function_reads_only_uploads_and_its_own_outputs(resources: dict) -> None:
    # Its outputs: latest.json, a run's report or failure record (duplicate deliveries), and
    # predictions' provenance.
    statements = allowed(function_statements(resources), "s3:GetObject")
    read = {resource for s in statements for resource in s["Resource"]}

    assert read == {
        f"{DATA_BUCKET}/incoming/*",
        f"{DATA_BUCKET}/models/*",
        f"{DATA_BUCKET}/failures/*",
        f"{DATA_BUCKET}/predict/*",
        f"{DATA_BUCKET}/predictions/*",
    }


@pytest.mark.parametrize("uploaded", [UPLOADED_OBJECT, f"{DATA_BUCKET}/predict/iris/a.csv"])
def test_function_may_only_get_uploads(resources: dict, uploaded: str) -> None:
    # Any write to incoming/ or predict/ would let the function trigger itself.
    covering_uploads = [
        s
        for s in function_statements(resources)
        if s["Effect"] == "Allow" and any(fnmatch.fnmatchcase(uploaded, r) for r in s["Resource"])
    ]

    assert covering_uploads, "the function must be able to read its uploads"
    for statement in covering_uploads:
        assert all(action.startswith("s3:Get") for action in statement["Action"]), statement


def test_reads_follow_the_configured_prefixes(configured_resources: dict) -> None:
    statements = function_statements(configured_resources)
    read = {r for s in allowed(statements, "s3:GetObject") for r in s["Resource"]}

    assert read == {
        f"{DATA_BUCKET}/uploads/*",
        f"{DATA_BUCKET}/results/models/*",
        f"{DATA_BUCKET}/results/failures/*",
        f"{DATA_BUCKET}/to-score/*",
        f"{DATA_BUCKET}/results/predictions/*",
    }


def test_function_role_has_no_managed_policy(resources: dict) -> None:
    # Not even AWSLambdaBasicExecutionRole, which may write to every log group.
    role = resources[function_role_id(resources)]

    assert "ManagedPolicyArns" not in role["Properties"]


def test_function_may_write_logs_only_to_its_own_log_group(resources: dict) -> None:
    log_group = function_log_group_id(resources)
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


def test_function_may_only_consume_the_trigger_queue(resources: dict) -> None:
    queue = json.dumps({"Fn::GetAtt": [trigger_queue_id(resources), "Arn"]})
    statements = [
        s
        for s in function_statements(resources)
        if any(action.startswith("sqs:") for action in s["Action"])
    ]

    assert [s["Resource"] for s in statements] == [[queue]]
    assert sorted(statements[0]["Action"]) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    ]


# The default bus's ARN, as the function's role names it.
DEFAULT_BUS_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":events:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":event-bus/default",
        ],
    ]
}


def put_events_statements(resources: dict) -> list[dict]:
    """The function role's statements that name any EventBridge action."""
    return [
        s
        for s in role_statements(resources, function_role_id(resources))
        if any(action.startswith("events:") for action in s["Action"])
    ]


@pytest.mark.parametrize(("app", "bus"), [("default", "default"), ("configured", "linreg-runs")])
def test_function_may_put_only_its_run_events_on_one_bus(
    request: pytest.FixtureRequest, app: str, bus: str
) -> None:
    resources = request.getfixturevalue({"default": "resources"}.get(app, "configured_resources"))
    (statement,) = put_events_statements(resources)
    expected = json.loads(
        json.dumps(DEFAULT_BUS_ARN).replace("event-bus/default", f"event-bus/{bus}")
    )

    assert (statement["Effect"], statement["Action"]) == ("Allow", ["events:PutEvents"])
    assert statement["Resource"] == [expected]
    assert statement["Condition"] == {
        "StringEquals": {"events:source": EVENT_SOURCE, "events:detail-type": EVENT_DETAIL_TYPE}
    }


def test_no_policy_allows_every_s3_action(resources: dict) -> None:
    broad = [
        s
        for s in all_statements(resources)
        if s["Effect"] == "Allow" and {"*", "s3:*"} & set(as_list(s["Action"]))
    ]

    assert broad == []


# --- enforced: the real handler under the role's S3 statements ----------------------------


# The request header each condition key of a Null condition stands for.
CONDITION_HEADERS = {"s3:if-none-match": "if-none-match", "s3:if-match": "if-match"}


@pytest.fixture
def header_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates no Null condition (it treats the statement as unconditional): here a
    statement whose Null condition on s3:if-none-match or s3:if-match the S3 request's
    headers do not meet is left out, as IAM leaves it out (it neither allows nor denies)."""
    headers: list[dict[str, str]] = []
    check_request = access_control.S3IAMRequest.check_action_permitted
    check_statement = access_control.IAMPolicyStatement.is_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        headers.append({name.lower(): value for name, value in self._headers.items()})
        try:
            check_request(self, resource)
        finally:
            headers.pop()

    def is_action_permitted(self, action: str, *args, **kwargs):
        null = self._statement.get("Condition", {}).get("Null", {})
        for key, absent in null.items():
            present = CONDITION_HEADERS[key] in headers[-1]
            if present != (absent == "false"):
                return access_control.PermissionResult.NEUTRAL
        return check_statement(self, action, *args, **kwargs)

    monkeypatch.setattr(
        access_control.S3IAMRequest, "check_action_permitted", check_action_permitted
    )
    monkeypatch.setattr(
        access_control.IAMPolicyStatement, "is_action_permitted", is_action_permitted
    )


@pytest.fixture
def clients(s3, resources: dict, iris_bytes: bytes, header_conditions: None) -> Iterator[tuple]:
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


def test_function_policy_allows_writing_the_model_page(clients: tuple) -> None:
    # The page step never fails a run, so a denied page would only show here.
    admin, function = clients

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})

    assert outcome["page_written"] is True
    assert admin.head_object(Bucket=BUCKET, Key="models/iris/index.html")


RUN_ID, OTHER_RUN_ID = "20261204T101500Z-0123456789ab", "20261204T101600Z-ba9876543210"
RUN_FOLDER = f"models/iris/{RUN_ID}/"


@pytest.mark.parametrize(
    "claim", [f"models/iris/{{run_id}}/{EVENT_FILE}", f"failures/iris/{{run_id}}.{EVENT_FILE}"]
)
def test_function_policy_allows_claiming_a_runs_event_only_if_absent(
    clients: tuple, claim: str
) -> None:
    # The claim in the run's folder, and beside a failure record (the failures grant).
    admin, function = clients
    key = claim.format(run_id=RUN_ID)

    with enable_iam_authentication():
        function.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
        with pytest.raises(function.exceptions.ClientError) as denied:
            function.put_object(Bucket=BUCKET, Key=claim.format(run_id=OTHER_RUN_ID), Body=b"{}")
        with pytest.raises(function.exceptions.ClientError) as replaced:
            function.put_object(Bucket=BUCKET, Key=key, Body=b"{}")

    assert admin.head_object(Bucket=BUCKET, Key=key)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert replaced.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("key", [f"{RUN_FOLDER}{REPORT_FILE}", f"models/iris/{LATEST_FILE}"])
def test_function_policy_refuses_an_unconditional_report_or_latest(
    clients: tuple, key: str
) -> None:
    # The replay's header conditions at work: the same writes with the header go through
    # in the whole runs above.
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key=key, Body=b"{}")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_function_policy_refuses_writing_an_upload(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key="incoming/loop.csv", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_function_policy_allows_scoring_an_upload_and_recognizing_its_redelivery(
    clients: tuple, iris_bytes: bytes
) -> None:
    admin, function = clients
    admin.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=iris_bytes)

    with enable_iam_authentication():
        handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})
        (scored,) = handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})
        (again,) = handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})

    assert scored["status"] == "succeeded"
    assert (again["status"], again.get("duplicate")) == ("succeeded", True)
    assert admin.head_object(Bucket=BUCKET, Key="predictions/iris/a.csv")


def test_function_policy_allows_replacing_an_older_uploads_predictions(
    clients: tuple, iris_bytes: bytes
) -> None:
    # The second write is the compare-and-swap (If-Match) over the first upload's.
    admin, function = clients

    admin.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=iris_bytes)
    with enable_iam_authentication():
        handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})
        handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})
    newer = iris_bytes.replace(b"5.1,3.5", b"5.2,3.5")
    admin.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=newer)
    with enable_iam_authentication():
        (scored,) = handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})

    assert scored["status"] == "succeeded" and "duplicate" not in scored
    assert (
        b"5.2,3.5" in admin.get_object(Bucket=BUCKET, Key="predictions/iris/a.csv")["Body"].read()
    )


def test_function_policy_allows_recording_a_failed_prediction(
    clients: tuple, iris_bytes: bytes
) -> None:
    admin, function = clients  # no model trained: nothing to score with
    admin.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=iris_bytes)

    with enable_iam_authentication():
        (outcome,) = handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})

    assert outcome["code"] == "model_not_found"
    assert admin.head_object(Bucket=BUCKET, Key=outcome["failure_key"])


def test_function_policy_refuses_overwriting_predictions_unconditionally(
    clients: tuple, iris_bytes: bytes
) -> None:
    admin, function = clients
    admin.put_object(Bucket=BUCKET, Key="predict/iris/a.csv", Body=iris_bytes)
    with enable_iam_authentication():
        handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})
        handler.handle_event(event_for("predict/iris/a.csv"), s3=function, env={})

    with enable_iam_authentication(), pytest.raises(ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key="predictions/iris/a.csv", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert (
        b"predicted_sepal_length"
        in admin.get_object(Bucket=BUCKET, Key="predictions/iris/a.csv")["Body"].read()
    )


def test_function_policy_refuses_overwriting_a_report_unconditionally(clients: tuple) -> None:
    _, function = clients
    with enable_iam_authentication():
        (outcome,) = handler.handle_event(event_for("incoming/iris.csv"), s3=function, env={})

    with enable_iam_authentication(), pytest.raises(ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key=outcome["prefix"] + REPORT_FILE, Body=b"{}")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_function_policy_refuses_writing_an_upload_to_score(clients: tuple) -> None:
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key="predict/iris/loop.csv", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_function_policy_refuses_writing_other_files_under_models(clients: tuple) -> None:
    # Only the run files, report.json and latest.json: nothing else under the models prefix.
    _, function = clients

    with enable_iam_authentication(), pytest.raises(function.exceptions.ClientError) as denied:
        function.put_object(Bucket=BUCKET, Key="models/iris/0123abcd/notes.txt", Body=b"x")

    assert denied.value.response["Error"]["Code"] == "AccessDenied"


# IAM caps the inline policies of one role at 10,240 characters in all, whitespace not
# counted (IAM User Guide, "IAM and AWS STS quotas"); CDK's default policies are inline.
# Neither synthesis nor moto checks it, so the policies are measured here, as deployed:
# every reference resolved to the longest value it can take.
ROLE_POLICY_CHARACTERS = 10_240
LONGEST = {
    "bucket": "arn:aws:s3:::" + "b" * 63,  # S3's longest bucket name
    "other": "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:" + "s" * 80,
    "AWS::Partition": "aws-us-gov",
    "AWS::Region": "us-gov-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


def deployed(value: object) -> object:
    """``value`` with its CloudFormation references replaced by their longest values."""
    if isinstance(value, list):
        return [deployed(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in ("Fn::Join", "Fn::GetAtt", "Ref"):
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            return argument[0].join(str(deployed(part)) for part in argument[1])
        if function == "Fn::GetAtt":
            return LONGEST["bucket"] if "Bucket" in argument[0] else LONGEST["other"]
        return LONGEST.get(argument, LONGEST["other"])
    return {key: deployed(item) for key, item in value.items()}


@pytest.mark.parametrize("app", ["default", "configured"])
def test_each_roles_inline_policies_fit_iams_size_limit(app, resources, configured_resources):
    found = resources if app == "default" else configured_resources
    sizes: dict[str, int] = {}
    for policy in of_type(found, "AWS::IAM::Policy").values():
        text = json.dumps(deployed(policy["Properties"]["PolicyDocument"]), separators=(",", ":"))
        for role in policy["Properties"]["Roles"]:
            sizes[role["Ref"]] = sizes.get(role["Ref"], 0) + len(text)
    assert sizes and max(sizes.values()) <= ROLE_POLICY_CHARACTERS, sizes
