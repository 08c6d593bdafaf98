"""Shared fixtures: the sample data, fake AWS settings and a moto S3 bucket."""

import boto3
import pytest
from moto import mock_aws

from helpers import BUCKET, FAKE_AWS, IRIS_CSV


@pytest.fixture(scope="session")
def iris_bytes() -> bytes:
    return IRIS_CSV.read_bytes()


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and no endpoint override, so nothing can reach real AWS."""
    for name, value in FAKE_AWS.items():
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
