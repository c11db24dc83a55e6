"""Customer data at rest (property 19): requirements in S3, encrypted with a customer-managed KMS key.

    customers/<customer_id>/requirements.json      SSE-KMS with the store's key (never S3-managed or aws/s3)

`put_requirements` writes with `ServerSideEncryption="aws:kms"` and the key; `get_requirements` reads back and
refuses an object that is not encrypted with that key (someone wrote it another way), so what is read was at rest
under the key. Decryption is S3's, with the caller's kms:Decrypt on the key: without it, S3 refuses the read.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from runtime.onboarding.models import CustomerRequirements, Slug, Strict

PREFIX = "customers"
_CUSTOMER = TypeAdapter(Slug)


class CustomerDataError(Exception):
    """Stored customer data is missing or not encrypted as it must be."""


class StoredObject(Strict):
    key: str
    s3_version_id: str | None = None
    server_side_encryption: str
    kms_key_id: str


def requirements_key(customer_id: str) -> str:
    return f"{PREFIX}/{customer_id}/requirements.json"


def _same_key(configured: str, reported: str | None) -> bool:
    """S3 reports the key's ARN; the store is given the key's id or ARN (not an alias: S3 reports the key behind it)."""
    return bool(reported) and configured.rsplit("/", 1)[-1] == reported.rsplit("/", 1)[-1]


class CustomerDataStore:
    def __init__(self, s3: Any, bucket: str, kms_key_id: str) -> None:
        if not bucket:
            raise ValueError("bucket: the customer data bucket's name is required")
        if not kms_key_id or kms_key_id.endswith("alias/aws/s3"):
            raise ValueError("kms_key_id: customer data needs a customer-managed KMS key (not the aws/s3 key)")
        self.s3 = s3
        self.bucket = bucket
        self.kms_key_id = kms_key_id

    def put_requirements(self, requirements: CustomerRequirements) -> StoredObject:
        key = requirements_key(requirements.customer_id)
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=requirements.model_dump_json().encode(),
                                      ContentType="application/json", ServerSideEncryption="aws:kms",
                                      SSEKMSKeyId=self.kms_key_id)
        return StoredObject(key=key, s3_version_id=response.get("VersionId"),
                            server_side_encryption=response.get("ServerSideEncryption", ""),
                            kms_key_id=response.get("SSEKMSKeyId", ""))

    def get_requirements(self, customer_id: str) -> CustomerRequirements:
        try:
            customer = _CUSTOMER.validate_python(customer_id)
        except ValidationError as exc:
            raise ValueError(f"customer_id: {exc.errors()[0]['msg']}") from None
        key = requirements_key(customer)
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise CustomerDataError(f"no requirements stored for customer {customer}") from None
            raise
        if response.get("ServerSideEncryption") != "aws:kms" or not _same_key(self.kms_key_id,
                                                                               response.get("SSEKMSKeyId")):
            raise CustomerDataError(
                f"{key} is not encrypted with the customer data key (found {response.get('ServerSideEncryption')}, "
                f"{response.get('SSEKMSKeyId')})"
            )
        return CustomerRequirements.model_validate_json(response["Body"].read())

    def describe(self, customer_id: str) -> StoredObject:
        key = requirements_key(customer_id)
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return StoredObject(key=key, s3_version_id=head.get("VersionId"),
                            server_side_encryption=head.get("ServerSideEncryption", ""),
                            kms_key_id=head.get("SSEKMSKeyId", ""))
