"""Shared moto fixtures for the onboarding tests (issue 13). All in-process (`mock_aws`), one region (us-east-1).

- `aws`: moto on for the test; yields an `AwsFixture` with `client(service, region=None)` (boto3 clients made inside
  the mock) and `region`.
- `s3`, `kms`: clients. `kms_key`: the id of a fresh customer-managed symmetric key.
- `package_bucket`: the package bucket made as the Pulumi program declares it (versioning on, public access blocked:
  `runtime.onboarding.package_store.ensure_package_bucket`); `package_store`: a `PackageStore` on it.
- `organization`: an organisation (all features) with this account as its management account; yields
  `(organizations client, root id)`.
- `cfn`: a CloudFormation client.

Property tests cannot take function-scoped fixtures per example (Hypothesis' health check). They take
`moto_for_examples` (one moto for the module) and start each example with `fresh_aws()`: every backend emptied, as
a new moto would be, without a new moto's ~50 ms of start-up per example.
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
    """A fresh, empty moto AWS for the duration of the block. Without moto's default AMIs: its EC2 backend (made for
    each account that touches EC2, here the refused AWS::EC2::Subnet) otherwise builds ~1,300 images at every start
    and reset, ~0.5 s each time, and no onboarding test looks at an image."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        yield AwsFixture()


def fresh_aws(*, keep: tuple[str, ...] = ()) -> AwsFixture:
    """Empty the running moto: every backend and its recorded models forgotten (what moto's documented
    `POST /moto-api/reset` does, called in-process); the next request to a service makes its backend anew.
    `keep`: services (moto's names, e.g. "organizations", "sts") whose state stays, for examples that share an
    account made once per test; everything else is emptied as moto's own reset empties it."""
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data
    from moto.core.models import MockAWS

    if MockAWS._nested_count == 0:
        raise RuntimeError("fresh_aws() needs a running moto (the moto_for_examples fixture)")
    if not keep:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        return AwsFixture()
    with backend_lock:
        for backend in [b for b in BackendDict._instances if b.service_name not in keep]:
            for account_backend in backend.values():
                account_backend.reset()
            backend.clear()
            BackendDict._instances.remove(backend)
    reset_model_data()
    return AwsFixture()


@pytest.fixture(scope="module")
def moto_for_examples() -> Iterator[AwsFixture]:
    """One moto for a module of property tests; each example calls `fresh_aws()` first."""
    with moto_session() as fixture:
        yield fixture


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
