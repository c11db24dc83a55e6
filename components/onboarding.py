"""The onboarding workflows' storage (seed 003, issue 13 item 7): the package bucket.

CloudFormation packages by customer and version (runtime/onboarding/package_store.py) are kept for every version
ever built, so a rollback can fetch the previous one: versioning on, encrypted with a customer-managed KMS key
(rotated yearly), no public access, never force-destroyed. The workflow state table is the State component's
`workflows` table (runtime/resources.py declares both).

The durable workflow functions, their roles and alarms are components/workflows.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import PACKAGE, child, keep_private
from runtime.resources import PACKAGES

KEY_DELETION_WINDOW_DAYS = 30  # the longest KMS allows: a key deleted by mistake can be restored for a month


@dataclass(frozen=True)
class OnboardingArgs:
    tags: Mapping[str, str] = field(default_factory=dict)


class Onboarding(pulumi.ComponentResource):
    package_key: aws.kms.Key
    package_bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OnboardingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Onboarding", name, None, opts)
        tags = {**args.tags, "aidlc:bucket": PACKAGES.logical_name}
        self.package_key = aws.kms.Key(
            f"{name}-packages-key", description="aidlc: the onboarding package bucket's objects",
            enable_key_rotation=True, deletion_window_in_days=KEY_DELETION_WINDOW_DAYS, tags=tags, opts=child(self))
        self.package_bucket = aws.s3.Bucket(f"{name}-packages", tags=tags, opts=child(self))
        keep_private(self, self.package_bucket, f"{name}-packages", encryption_rule={
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                        "kms_master_key_id": self.package_key.arn},
            "bucket_key_enabled": True})  # one data key per bucket, not a KMS call per object
        aws.s3.BucketVersioning(
            f"{name}-packages-versioning", bucket=self.package_bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=child(self))
        self.bucket_name = self.package_bucket.bucket
        self.bucket_arn = self.package_bucket.arn
        self.register_outputs({"package_bucket": self.bucket_name, "package_key": self.package_key.arn})
