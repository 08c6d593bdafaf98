"""Shared fixtures: the sample data, test files and a moto S3 bucket."""

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
IRIS_CSV = ROOT / "data" / "iris.csv"
BUCKET = "linreg-test"


@pytest.fixture(scope="session")
def iris_bytes() -> bytes:
    return IRIS_CSV.read_bytes()


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and no endpoint override, so nothing can reach real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3(aws_env):
    """A moto S3 client with an empty bucket named ``BUCKET``."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3, prefix: str = "") -> list[str]:
    """Every key in the test bucket under ``prefix``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
