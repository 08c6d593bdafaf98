"""The data bucket and the bucket its access logs go to: access, encryption, versions,
lifecycles, and what deleting the stack does to them."""

from __future__ import annotations

import pytest

from template import access_log_bucket_id, bucket_id, bucket_policy_statements, of_type

BOTH_BUCKETS = pytest.mark.parametrize(
    "which", [bucket_id, access_log_bucket_id], ids=["data", "access-log"]
)


@BOTH_BUCKETS
def test_bucket_denies_requests_without_tls(resources: dict, which) -> None:
    denials = [
        s
        for s in bucket_policy_statements(resources, which(resources))
        if s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]

    assert len(denials) == 1


@BOTH_BUCKETS
def test_bucket_blocks_all_public_access(resources: dict, which) -> None:
    properties = resources[which(resources)]["Properties"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@BOTH_BUCKETS
def test_bucket_is_encrypted_with_s3_managed_keys(resources: dict, which) -> None:
    encryption = resources[which(resources)]["Properties"]["BucketEncryption"]

    assert encryption["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]


@BOTH_BUCKETS
def test_bucket_owner_enforced_disables_acls(resources: dict, which) -> None:
    properties = resources[which(resources)]["Properties"]

    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert "AccessControl" not in properties


def test_access_logs_are_delivered_through_the_log_bucket_policy(resources: dict) -> None:
    # With ACLs disabled, S3's log delivery may write only by the bucket policy, and only
    # for the data bucket of this account.
    data = bucket_id(resources)
    deliveries = [
        s
        for s in bucket_policy_statements(resources, access_log_bucket_id(resources))
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    ]

    assert [s["Action"] for s in deliveries] == ["s3:PutObject"]
    assert deliveries[0]["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [data, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_data_bucket_denies_uploads_with_customer_provided_keys(resources: dict) -> None:
    # SSE-C: nobody here could read the object without the uploader's key.
    data = bucket_id(resources)
    denials = [
        s
        for s in bucket_policy_statements(resources, data)
        if s["Effect"] == "Deny" and s["Action"] == "s3:PutObject"
    ]

    assert denials == [
        {
            "Sid": "DenyCustomerProvidedKeys",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:PutObject",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [data, "Arn"]}, "/*"]]},
            "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        }
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


# --- deleting the stack -------------------------------------------------------------------


@BOTH_BUCKETS
def test_bucket_is_retained_when_the_stack_is_deleted(resources: dict, which) -> None:
    bucket = resources[which(resources)]

    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_nothing_empties_the_buckets_by_default(resources: dict) -> None:
    assert of_type(resources, "Custom::S3AutoDeleteObjects") == {}


def test_destroy_on_delete_empties_and_deletes_both_buckets(configured_resources: dict) -> None:
    emptied = {
        r["Properties"]["BucketName"]["Ref"]
        for r in of_type(configured_resources, "Custom::S3AutoDeleteObjects").values()
    }

    assert emptied == {bucket_id(configured_resources), access_log_bucket_id(configured_resources)}
    for bucket in emptied:
        assert configured_resources[bucket]["DeletionPolicy"] == "Delete"
