"""Shared test set-up: no test talks to AWS, Notion, GitHub or Bedrock; fake AWS credentials, one region."""

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

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

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (README, "Tests"): `ci` by default, `nightly` runs ten times the
# examples of every property that does not fix its own count. Neither keeps an example database: tests write nothing
# into the repository, and a failure prints its falsifying example.
settings.register_profile("ci", database=None, max_examples=200)
settings.register_profile("nightly", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """Hypothesis' own caches (charmap, constants) go to a temporary folder, not `.hypothesis/` in the repository."""
    config._hypothesis_home = tempfile.mkdtemp(prefix="aidlc-hypothesis-")
    set_hypothesis_home_dir(config._hypothesis_home)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_hypothesis_home", ""), ignore_errors=True)


def pytest_collection_modifyitems(items):
    """The files of `slow` tests first, then the others, the ones with the most tests first (xdist's own order, which
    `--no-loadscope-reorder` in pyproject.toml turns off for this one). xdist hands the files out in this order, so the
    minutes-long tests start at once while the many short ones keep the other worker busy; by xdist's own order
    they came last (their files have one test each), and a run could end on one worker finishing a two-minute test."""
    tests_in = Counter(item.path for item in items)
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path not in slow, -tests_in[item.path]))  # stable: a file's tests stay in order


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test sees the registry as its own files and environment make it."""
    from runtime.registry import reset_registry

    reset_registry()
    yield
    reset_registry()


@pytest.fixture(autouse=True)
def notion_contract():
    """Every request any Notion adapter sends during the test is held to Notion's contract (the official SDK's types,
    vendored, plus the documented limits: `runtime.notion.contract`); the test fails on anything Notion would refuse,
    even where the code under test caught the refusal. A test that sends bad requests on purpose calls `allow()`."""
    from runtime.notion.adapter import observe_requests
    from runtime.notion.contract import RequestChecker

    checker = RequestChecker()
    stop = observe_requests(checker)
    yield checker
    stop()
    if checker.problems and not checker.allowed:
        pytest.fail("requests Notion would refuse:\n" + "\n".join(checker.problems[:10]), pytrace=False)


@contextmanager
def declared_aws(prefix: str, **subset) -> Iterator:
    """moto in-process holding the resources runtime/resources.py declares, made by the local stack's own builder
    (`runtime.local.aws.create_declared`: tables with their TTL, queues with their DLQ and redrive, the bucket, the
    secrets), yielding its `LocalAws` (names and URLs by logical name). `subset`: create_declared's `tables`,
    `queues`, `secrets`, `bucket`. The process's default boto3 clients are forgotten on the way in and out, so none
    outlives the backend. Every test fixture that builds AWS resources builds them here."""
    from moto import mock_aws

    from runtime.aws_clients import default_clients
    from runtime.local.aws import create_declared

    with mock_aws():
        default_clients().reset()
        try:
            yield create_declared(default_clients().client, prefix, **subset)
        finally:
            default_clients().reset()


@contextmanager
def seeded_notion(folder) -> Iterator:
    """The Notion emulator (state in `folder`) seeded with the plugins' workspace, on loopback, and the integration's
    adapter to it with a throttle that never waits: `.emulator`, `.server`, `.seed`, `.notion`."""
    from types import SimpleNamespace

    from runtime.local.notion_emulator import NotionEmulator
    from runtime.local.server import serve
    from runtime.notion.adapter import NotionAdapter
    from runtime.notion.schema import workspace_schema
    from runtime.notion.throttle import Throttle

    emulator = NotionEmulator(folder)
    seed = emulator.seed_workspace(workspace_schema())
    server = serve(emulator.app)
    notion = NotionAdapter(emulator.integration_token, base_url=server.base_url,
                           throttle=Throttle(rate_per_second=1000, burst=1000))
    try:
        yield SimpleNamespace(emulator=emulator, server=server, seed=seed, notion=notion)
    finally:
        server.stop()


CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by .ci/setup; Playwright's own download cannot work here
# Without the background-networking flags Chromium keeps trying the closed network (ARCHITECTURE.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/setup installs it)"
)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
