"""Infra tests run the real Pulumi program (`__main__.py`) under Pulumi mocks: no Pulumi CLI, no AWS, no network."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.mockrun import Recording, run_main
from runtime.stack_config import SECRET_KEYS, pulumi_config_map

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRETS = {key: f"test-{key}-value" for key in SECRET_KEYS}


def run_dev(overrides: dict[str, str] | None = None, *, secrets: dict[str, str] | None = None) -> Recording:
    """The dev stack's config (Pulumi.dev.yaml), optionally with some `aidlc:` keys changed."""
    config = pulumi_config_map("dev", PROJECT_ROOT)
    config.update(overrides or {})
    return run_main(PROJECT_ROOT, config, secrets=TEST_SECRETS if secrets is None else secrets)


@pytest.fixture(scope="session")
def _dev_stack_once() -> Recording:
    return run_dev()


@pytest.fixture
def dev_stack(_dev_stack_once: Recording) -> Recording:
    """A private copy per test, so a test that breaks a resource cannot leak into another."""
    return copy.deepcopy(_dev_stack_once)
