"""The onboarding workflows' package bucket in the program (issue 13 item 7, first part): versioned, SSE-KMS with a
customer-managed key that rotates, public access blocked, kept on destroy; and every infra check passes on it."""

from __future__ import annotations

from components.checks import run_checks
from components.mockrun import Recording


def test_the_package_bucket_is_versioned_kms_encrypted_private_and_kept(dev_stack: Recording) -> None:
    bucket = dev_stack.named("onboarding-packages")
    assert not bucket.inputs.get("forceDestroy")  # no force-destroy: `pulumi destroy` cannot delete a bucket that still holds packages
    key = dev_stack.named("onboarding-packages-key")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    versioning = dev_stack.named("onboarding-packages-versioning")
    assert versioning.inputs["bucket"] == bucket.id
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [rule] = dev_stack.named("onboarding-packages-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.state["arn"]}
    assert rule["bucketKeyEnabled"] is True
    block = dev_stack.named("onboarding-packages-no-public-access")
    assert all(block.inputs[s] for s in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets"))
    assert dev_stack.named("onboarding").type == "aidlc:index:Onboarding"


def test_the_checks_catch_a_package_bucket_left_unencrypted_or_public(dev_stack: Recording) -> None:
    """The checks pass on the program as written and fail on the same program with the bucket's encryption or its
    public access block removed (so the first assertion is not vacuous)."""
    assert all(found == [] for found in run_checks(dev_stack).values())
    for name, check in (("onboarding-packages-encryption", "encryption_at_rest"),
                        ("onboarding-packages-no-public-access", "no_public_s3")):
        broken = Recording([r for r in dev_stack.resources if r.name != name])
        found = run_checks(broken)[check]
        assert [v.resource for v in found] == ["onboarding-packages"], found
