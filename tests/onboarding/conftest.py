"""Shared moto fixtures for the onboarding tests (issue 13). All in-process (`mock_aws`), one region (us-east-1).

- `aws`: moto on for the test; yields an `AwsFixture` with `client(service, region=None)` (boto3 clients made inside
  the mock) and `region`.
- `s3`, `kms`: clients. `kms_key`: the id of a fresh customer-managed symmetric key.
- `package_bucket`: the package bucket made as the Pulumi program declares it (versioning on, public access blocked:
  `runtime.onboarding.package_store.ensure_package_bucket`); `package_store`: a `PackageStore` on it.
- `organization`: an organisation (all features) with this account as its management account; yields
  `(organizations client, root id)`.
- `cfn`: a CloudFormation client.

Property tests cannot take function-scoped fixtures per example (Hypothesis' health check): they open
`moto_session()` themselves, one fresh AWS per example.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
PACKAGE_BUCKET = "aidlc-test-packages"


@dataclass
class AwsFixture:
    region: str = REGION

    def client(self, service: str, region: str | None = None):
        return boto3.client(service, region_name=region or self.region)


@contextlib.contextmanager
def moto_session() -> Iterator[AwsFixture]:
    """A fresh, empty moto AWS for the duration of the block."""
    with mock_aws():
        yield AwsFixture()


@pytest.fixture
def aws() -> Iterator[AwsFixture]:
    with moto_session() as fixture:
        yield fixture


@pytest.fixture
def s3(aws: AwsFixture):
    return aws.client("s3")


@pytest.fixture
def kms(aws: AwsFixture):
    return aws.client("kms")


@pytest.fixture
def kms_key(kms) -> str:
    return kms.create_key(Description="aidlc test: customer data", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]


@pytest.fixture
def package_bucket(s3) -> str:
    from runtime.onboarding.package_store import ensure_package_bucket

    ensure_package_bucket(s3, PACKAGE_BUCKET)
    return PACKAGE_BUCKET


@pytest.fixture
def package_store(s3, package_bucket):
    from runtime.onboarding.package_store import PackageStore

    return PackageStore(s3, package_bucket)


@pytest.fixture
def organization(aws: AwsFixture):
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    return org, root_id


@pytest.fixture
def cfn(aws: AwsFixture):
    return aws.client("cloudformation")
