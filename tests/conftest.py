"""Shared test set-up: no test talks to AWS, Notion, GitHub or Bedrock; fake AWS credentials, one region."""

import os

import pytest

# Set before any boto3 session exists (moto's advice); setdefault keeps a developer's explicit choice.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "aidlc-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "aidlc-tests")


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test sees the registry as its own files and environment make it."""
    from runtime.registry import reset_registry

    reset_registry()
    yield
    reset_registry()
