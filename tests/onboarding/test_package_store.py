"""The package store (content versions, never overwritten, exact retrieval) and the customer data store (SSE-KMS),
against moto's S3 and KMS."""

from __future__ import annotations

import pytest

from runtime.onboarding.customer_data import CustomerDataError, CustomerDataStore, requirements_key
from runtime.onboarding.models import CFNPackage, CustomerRequirements
from runtime.onboarding.package_store import (
    PackageCorrupted,
    PackageNotFound,
    PackageStore,
    digest_key,
    package_key,
)
from runtime.onboarding.packages import build_package, content_digest


def requirements(services=("s3",), customer="acme-corp") -> CustomerRequirements:
    return CustomerRequirements.model_validate({
        "customer_id": customer, "customer_name": "Acme", "contact_email": "ops@acme.example.com",
        "infrastructure": {"regions": ["us-east-1"], "services": list(services)}})


def test_same_content_same_version_different_content_next(package_store):
    first = package_store.put(build_package(requirements()))
    again = package_store.put(build_package(requirements()))
    other = package_store.put(build_package(requirements(("s3", "sqs"))))
    assert (first.version, first.created) == ("v1", True)
    assert (again.version, again.created, again.digest) == ("v1", False, first.digest)
    assert (other.version, other.created) == ("v2", True)
    assert [v.version for v in package_store.versions("acme-corp")] == ["v1", "v2"]
    assert package_store.versions("someone-else") == []


def test_versions_are_per_customer(package_store):
    assert package_store.put(build_package(requirements(customer="acme-corp"))).version == "v1"
    assert package_store.put(build_package(requirements(customer="beta-co"))).version == "v1"


def test_get_returns_exactly_what_was_stored(package_store, s3, package_bucket):
    pkg = build_package(requirements(("dynamodb", "lambda")))
    stored = package_store.put(pkg)
    got = package_store.get("acme-corp", stored.version)
    assert got.version == "v1" and got.digest == content_digest(pkg) == stored.digest
    assert got.model_copy(update={"version": None, "digest": None}) == pkg
    raw = s3.get_object(Bucket=package_bucket, Key=package_key("acme-corp", "v1"))["Body"].read()
    assert package_store.get_bytes("acme-corp", "v1") == raw == got.model_dump_json().encode()


def test_objects_are_never_overwritten(package_store, s3, package_bucket):
    package_store.put(build_package(requirements()))
    package_store.put(build_package(requirements()))
    package_store.put(build_package(requirements(("sqs",))))
    versions = s3.list_object_versions(Bucket=package_bucket, Prefix="packages/")["Versions"]
    per_key: dict[str, int] = {}
    for v in versions:
        per_key[v["Key"]] = per_key.get(v["Key"], 0) + 1
    assert set(per_key.values()) == {1}, per_key  # one S3 version per key: nothing was written twice
    assert s3.get_bucket_versioning(Bucket=package_bucket)["Status"] == "Enabled"
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=package_bucket, Key=package_key("acme-corp", "v1"), Body=b"{}", IfNoneMatch="*")


def test_a_writer_that_took_the_next_number_first_pushes_us_on(package_store, s3, package_bucket):
    """Race: another writer stored different content as v2 between our listing and our write (simulated by
    writing v2 directly while our listing still says v1 is the last)."""
    package_store.put(build_package(requirements()))
    theirs = build_package(requirements(("sns",)))
    original = package_store._numbers

    def stale_listing(customer):
        numbers = original(customer)
        if 2 not in numbers:
            body = theirs.model_copy(update={"version": "v2", "digest": content_digest(theirs)}).model_dump_json()
            s3.put_object(Bucket=package_bucket, Key=package_key(customer, "v2"), Body=body.encode(),
                          Metadata={"digest": content_digest(theirs)})
        return numbers

    package_store._numbers = stale_listing
    ours = package_store.put(build_package(requirements(("sqs",))))
    assert ours.version == "v3"
    assert package_store.get("acme-corp", "v2").digest == content_digest(theirs)


def test_a_crash_before_the_digest_marker_is_repaired(package_store, s3, package_bucket):
    pkg = build_package(requirements())
    stored = package_store.put(pkg)
    s3.delete_object(Bucket=package_bucket, Key=digest_key("acme-corp", stored.digest))  # as if we had crashed
    assert package_store.put(pkg).version == "v1"
    assert package_store.find("acme-corp", stored.digest).version == "v1"


def test_tampered_objects_are_detected(package_store, s3, package_bucket):
    stored = package_store.put(build_package(requirements()))
    pkg = package_store.get("acme-corp", "v1")
    data = pkg.model_dump()
    data["templates"][0]["description"] = "edited behind our back"
    s3.put_object(Bucket=package_bucket, Key=stored.key, Body=CFNPackage.model_validate(data).model_dump_json(),
                  Metadata={"digest": stored.digest})
    with pytest.raises(PackageCorrupted):
        package_store.get("acme-corp", "v1")


def test_missing_and_malformed_lookups(package_store):
    with pytest.raises(PackageNotFound):
        package_store.get("acme-corp", "v9")
    with pytest.raises(ValueError, match="version"):
        package_store.get("acme-corp", "latest")
    with pytest.raises(ValueError, match="customer_id"):
        package_store.get("../etc", "v1")


def test_packages_encrypted_with_the_store_key(s3, package_bucket, kms_key):
    store = PackageStore(s3, package_bucket, kms_key_id=kms_key)
    stored = store.put(build_package(requirements()))
    head = s3.head_object(Bucket=package_bucket, Key=stored.key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key)


def test_customer_requirements_round_trip_under_kms(s3, package_bucket, kms_key):
    store = CustomerDataStore(s3, package_bucket, kms_key)
    req = requirements(("rds",))
    stored = store.put_requirements(req)
    assert (stored.server_side_encryption, stored.kms_key_id) == ("aws:kms", kms_key)
    assert store.get_requirements("acme-corp") == req
    head = s3.head_object(Bucket=package_bucket, Key=requirements_key("acme-corp"))
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key)


def test_customer_data_not_under_our_key_is_refused(s3, package_bucket, kms_key, kms):
    s3.put_object(Bucket=package_bucket, Key=requirements_key("acme-corp"),
                  Body=requirements().model_dump_json().encode(), ServerSideEncryption="AES256")
    with pytest.raises(CustomerDataError, match="not encrypted with the customer data key"):
        CustomerDataStore(s3, package_bucket, kms_key).get_requirements("acme-corp")
    other_key = kms.create_key()["KeyMetadata"]["KeyId"]
    CustomerDataStore(s3, package_bucket, other_key).put_requirements(requirements())
    with pytest.raises(CustomerDataError):
        CustomerDataStore(s3, package_bucket, kms_key).get_requirements("acme-corp")
    with pytest.raises(CustomerDataError, match="no requirements"):
        CustomerDataStore(s3, package_bucket, kms_key).get_requirements("nobody-here")
    with pytest.raises(ValueError, match="kms_key_id"):
        CustomerDataStore(s3, package_bucket, "alias/aws/s3")
