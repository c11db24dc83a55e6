"""The package store: CloudFormation packages in S3, versioned by content, never overwritten (properties 9 and 10).

Layout in the package bucket (versioning on):

    packages/<customer_id>/<version>/package.json    the package (canonical JSON, its version and digest inside)
    packages/<customer_id>/digests/<sha256 hex>       a marker: this content is stored as the version it names

`put(pkg)` returns the version already holding the same content (the digest of `packages.content_digest`), else
writes the next `vN`. Every write is `PutObject` with `IfNoneMatch="*"` (S3's conditional write, which moto 5
honours): an object that exists is never replaced, so two writers racing for `vN` cannot both win; the loser moves
on to `vN+1`. A different content therefore never gets a number already used. `get` reads the object back, checks
its digest against the one written and returns the package exactly as stored.

A crash between writing `vN` and its digest marker is repaired by the next `put` of the same content: it compares
the latest version's digest (object metadata) before writing a new one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from runtime.onboarding.models import CFNPackage, Slug, Strict, Version
from runtime.onboarding.packages import content_digest

PREFIX = "packages"
_VERSION_KEY = re.compile(r"^packages/(?P<customer>[a-z0-9-]+)/v(?P<n>[1-9][0-9]*)/package\.json$")
_CUSTOMER = TypeAdapter(Slug)
_VERSION = TypeAdapter(Version)
MAX_RACE_RETRIES = 20


class PackageNotFound(KeyError):
    """No package stored under that customer and version."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "package not found"


class PackageCorrupted(Exception):
    """What S3 returned is not what was stored (its digest differs)."""


class StoredPackage(Strict):
    customer_id: str
    version: str
    digest: str
    key: str
    s3_version_id: str | None = None
    size: int | None = None
    stored_at: datetime | None = None
    created: bool = False  # this put wrote it (False: the same content was already stored)


def _check(adapter: TypeAdapter, value: Any, field: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"{field}: {exc.errors()[0]['msg']}") from None


def package_key(customer_id: str, version: str) -> str:
    return f"{PREFIX}/{customer_id}/{version}/package.json"


def digest_key(customer_id: str, digest: str) -> str:
    return f"{PREFIX}/{customer_id}/digests/{digest.removeprefix('sha256:')}"


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None


def _precondition_failed(exc: Exception) -> bool:
    return _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict")


def _not_found(exc: Exception) -> bool:
    return _error_code(exc) in ("NoSuchKey", "404", "NotFound")


def ensure_package_bucket(s3: Any, bucket: str, region: str | None = None) -> None:
    """Create the bucket as the Pulumi program declares it (versioning on, private, encrypted): for the local stack
    and tests. An existing bucket of ours is left as it is, apart from turning versioning on."""
    region = region or s3.meta.region_name
    try:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})


class PackageStore:
    """Packages of every customer in one S3 bucket. `s3` is a boto3 S3 client (audited, where the caller has one)."""

    def __init__(self, s3: Any, bucket: str, kms_key_id: str | None = None) -> None:
        if not bucket:
            raise ValueError("bucket: the package bucket's name is required")
        self.s3 = s3
        self.bucket = bucket
        self.kms_key_id = kms_key_id

    # -- writing ---------------------------------------------------------------------------------------------------

    def _encryption(self) -> dict[str, str]:
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    def _put_new(self, key: str, body: bytes, metadata: dict[str, str]) -> dict[str, Any] | None:
        """PutObject only if nothing is there; None when something is."""
        try:
            return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*",
                                      ContentType="application/json", Metadata=metadata, **self._encryption())
        except Exception as exc:  # botocore ClientError; the S3 client's modelled exceptions do not include 412
            if _precondition_failed(exc):
                return None
            raise

    def put(self, pkg: CFNPackage) -> StoredPackage:
        """Store `pkg` (its version and digest fields are set here; what it had is ignored) and return where."""
        customer = _check(_CUSTOMER, pkg.customer_id, "customer_id")
        digest = content_digest(pkg)
        existing = self.find(customer, digest)
        if existing is not None:
            return existing
        numbers = self._numbers(customer)
        if numbers:  # repair a crash between a version's write and its digest marker
            latest = self.describe(customer, f"v{numbers[-1]}")
            if latest.digest == digest:
                winner = self._mark(customer, digest, latest.version)
                return latest if winner == latest.version else self.describe(customer, winner)
        n = (numbers[-1] if numbers else 0) + 1
        for _ in range(MAX_RACE_RETRIES):
            version = f"v{n}"
            stored = pkg.model_copy(update={"version": version, "digest": digest})
            body = stored.model_dump_json().encode()
            metadata = {"digest": digest, "customer-id": customer, "version": version}
            response = self._put_new(package_key(customer, version), body, metadata)
            if response is not None:
                winner = self._mark(customer, digest, version)
                if winner != version:  # a concurrent put stored the same content first: theirs is the version
                    return self.describe(customer, winner)
                return StoredPackage(customer_id=customer, version=version, digest=digest,
                                     key=package_key(customer, version), s3_version_id=response.get("VersionId"),
                                     size=len(body), created=True)
            # Someone else took vN: perhaps with this very content.
            existing = self.find(customer, digest)
            if existing is not None:
                return existing
            n += 1
        raise RuntimeError(f"could not claim a version for {customer} after {MAX_RACE_RETRIES} tries")

    def _mark(self, customer: str, digest: str, version: str) -> str:
        """Write the digest marker; if one is there already, the version it names (the first writer's)."""
        if self._put_new(digest_key(customer, digest), version.encode(), {"version": version}) is not None:
            return version
        return self._marked(customer, digest) or version

    # -- reading ---------------------------------------------------------------------------------------------------

    def find(self, customer_id: str, digest: str) -> StoredPackage | None:
        """The stored version with this content digest, if any."""
        customer = _check(_CUSTOMER, customer_id, "customer_id")
        version = self._marked(customer, digest)
        if version is None:
            return None
        # The marker is written only after its version object, which is never overwritten: no HEAD needed.
        return StoredPackage(customer_id=customer, version=version, digest=digest, key=package_key(customer, version))

    def _marked(self, customer: str, digest: str) -> str | None:
        try:
            marker = self.s3.get_object(Bucket=self.bucket, Key=digest_key(customer, digest))
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return _check(_VERSION, marker["Body"].read().decode(), "digest marker")

    def describe(self, customer_id: str, version: str) -> StoredPackage:
        customer = _check(_CUSTOMER, customer_id, "customer_id")
        version = _check(_VERSION, version, "version")
        key = package_key(customer, version)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _not_found(exc):
                raise PackageNotFound(f"no package {version} for customer {customer}") from None
            raise
        return StoredPackage(customer_id=customer, version=version, digest=head["Metadata"].get("digest", ""),
                             key=key, s3_version_id=head.get("VersionId"), size=head.get("ContentLength"),
                             stored_at=head.get("LastModified"))

    def get_bytes(self, customer_id: str, version: str) -> bytes:
        """The object exactly as stored."""
        customer = _check(_CUSTOMER, customer_id, "customer_id")
        version = _check(_VERSION, version, "version")
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=package_key(customer, version))
        except Exception as exc:
            if _not_found(exc):
                raise PackageNotFound(f"no package {version} for customer {customer}") from None
            raise
        body = response["Body"].read()
        expected = response.get("Metadata", {}).get("digest")
        pkg = CFNPackage.model_validate_json(body)
        actual = content_digest(pkg)
        if expected != actual or pkg.digest != actual or pkg.version != version:
            raise PackageCorrupted(f"package {customer}/{version}: stored digest {expected}, content digest {actual}")
        return body

    def get(self, customer_id: str, version: str) -> CFNPackage:
        """The package stored as `version`, with its digest checked."""
        return CFNPackage.model_validate_json(self.get_bytes(customer_id, version))

    def _numbers(self, customer: str) -> list[int]:
        numbers = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{PREFIX}/{customer}/v"):
            for item in page.get("Contents", []):
                match = _VERSION_KEY.match(item["Key"])
                if match and match["customer"] == customer:
                    numbers.append(int(match["n"]))
        return sorted(numbers)

    def versions(self, customer_id: str) -> list[StoredPackage]:
        """Every stored version of the customer's packages, oldest first."""
        customer = _check(_CUSTOMER, customer_id, "customer_id")
        return [self.describe(customer, f"v{n}") for n in self._numbers(customer)]
