"""Prototype hosting: a private, encrypted S3 bucket whose objects expire after the configured days, served only
through CloudFront with Origin Access Control (the bucket policy admits that one distribution and nothing else)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.base import PACKAGE, child, keep_private, require

# AWS managed cache policy "CachingOptimized" (a documented, stable id, the same in every account).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# CloudFront's default root object applies to "/" only: "/{invocation_id}/" or "/{invocation_id}" would ask S3
# for a key that does not exist, which S3 answers 403 to a reader without s3:ListBucket. This viewer-request
# function maps folder URLs to their index.html (tests/infra/test_hosting_function.py runs it under node).
INDEX_FUNCTION_CODE = (Path(__file__).parent / "cloudfront_index.js").read_text()


@dataclass(frozen=True)
class PrototypeHostingArgs:
    expiry_days: int
    key_prefix: str = ""  # "" = the whole bucket (prototypes live under {invocation_id}/)
    price_class: str = "PriceClass_100"
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("PrototypeHosting", 1 <= int(self.expiry_days) <= 365,
                f"expiry_days must be 1..365, got {self.expiry_days}")
        require("PrototypeHosting", self.price_class in PRICE_CLASSES,
                f"price_class {self.price_class!r} is not one of {PRICE_CLASSES}")


class PrototypeHosting(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    distribution: aws.cloudfront.Distribution
    origin_access_control: aws.cloudfront.OriginAccessControl
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    base_url: pulumi.Output[str]

    def __init__(self, name: str, args: PrototypeHostingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:PrototypeHosting", name, None, opts)
        expiry_days = int(args.expiry_days)
        tags = dict(args.tags)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=True, tags=tags, opts=child(self))
        # SSE-S3 (keep_private's default): CloudFront OAC reads it without a KMS key policy.
        self.public_access_block = keep_private(self, self.bucket, name)
        # Versioning stays off: an expired prototype must really go, not linger as a noncurrent version.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-expiry",
            bucket=self.bucket.id,
            rules=[{
                "id": "expire-prototypes",
                "status": "Enabled",
                "filter": {"prefix": args.key_prefix},
                "expiration": {"days": expiry_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }],
            opts=child(self),
        )
        self.origin_access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description="aidlc prototypes: CloudFront signs requests to the private bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child(self),
        )
        self.index_function = aws.cloudfront.Function(
            f"{name}-index",
            runtime="cloudfront-js-2.0",
            comment="aidlc prototypes: folder URLs serve their index.html",
            code=INDEX_FUNCTION_CODE,
            publish=True,
            opts=child(self),
        )
        origin_id = "prototypes-s3"
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment="aidlc hosted prototypes",
            default_root_object="index.html",
            price_class=args.price_class,
            origins=[{
                "domain_name": self.bucket.bucket_regional_domain_name,
                "origin_id": origin_id,
                "origin_access_control_id": self.origin_access_control.id,
            }],
            default_cache_behavior={
                "target_origin_id": origin_id,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED_POLICY_ID,
                "compress": True,
                "function_associations": [{"event_type": "viewer-request",
                                           "function_arn": self.index_function.arn}],
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            tags=tags,
            opts=child(self),
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "CloudFrontOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                    "Condition": {"StringEquals": {"AWS:SourceArn": self.distribution.arn}},
                }],
            }),
            opts=child(self, depends_on=[self.public_access_block]),
        )
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.base_url = pulumi.Output.concat("https://", self.distribution.domain_name)
        self.register_outputs({"bucket": self.bucket_name, "base_url": self.base_url})
