"""The browser check (issue 15, item 3): every prototype upload is rendered in headless Chromium first. A JavaScript
error, a console error, a request outside the bundle or a blank page refuses the upload with nothing written; a good
page is uploaded with a real PNG screenshot, served like the prototype and attached to the artifact
(`metadata.screenshot_url`). The AgentCore adapter is driven over a real CDP endpoint (a local Chromium standing in
for the AgentCore Browser session), with the session started and stopped through the SDK client's interface.

One Chromium for the whole module (`LocalChromium`, started on first use); pages are answered from memory, so no
network is used at all."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from runtime.browser import PageChecker, png_size
from runtime.browser.agentcore import AgentCoreBrowser
from runtime.browser.local import CHROMIUM, CHROMIUM_ARGS, LocalChromium
from runtime.policy import ToolPolicy
from runtime.prototypes import PrototypeCheckError, PrototypeStore
from runtime.tools.base import ToolContext, ToolServices
from runtime.tools.prototype_tools import UploadArgs, UploadResult, prototype_artifact
from runtime.tools.registry import ToolRegistry
from runtime.tools.spec import ArtifactContext
from tests.agent.conftest import make_request
from tests.conftest import declared_aws, needs_chromium

pytestmark = needs_chromium

BUCKET = "aidlc-test-prototypes"  # the prototypes bucket declared_aws("aidlc-test") makes
BASE = "https://d111.cloudfront.net"
INVOCATION = "01JD0000000000000000000007"
GOOD = "<!doctype html><title>Ambulances</title><h1>Ambulance availability</h1><button>Dispatch</button>"


@pytest.fixture(scope="module")
def chromium():
    provider = LocalChromium()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def s3():
    with declared_aws("aidlc-test", tables=[], queues=[], secrets=[]):
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def store(s3, chromium) -> PrototypeStore:
    # one bucket for the module; each test starts from an empty one
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return PrototypeStore(BUCKET, BASE, s3_client=s3, checker=PageChecker(chromium))


def _keys(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_a_javascript_error_refuses_the_upload_and_writes_nothing(s3, store):
    page = "<!doctype html><h1>Dispatch board</h1><script>window.onload = () => showAmbulances();</script>"
    with pytest.raises(PrototypeCheckError, match="showAmbulances is not defined") as failed:
        store.upload(INVOCATION, {"index.html": page})
    assert failed.value.problems == ["uncaught error: ReferenceError: showAmbulances is not defined"] or \
        any("showAmbulances" in p for p in failed.value.problems)
    assert _keys(s3) == []  # a broken implementation that uploads first and checks after leaves objects here


def test_a_console_error_and_a_cdn_script_are_caught(s3, store):
    page = ("<!doctype html><h1>Board</h1><script>console.error('no units loaded')</script>"
            "<script src='https://cdn.example.com/react.js'></script>")
    with pytest.raises(PrototypeCheckError) as failed:
        store.upload(INVOCATION, {"index.html": page})
    problems = failed.value.problems
    assert "console error: no units loaded" in problems
    assert any("https://cdn.example.com/react.js" in p and "self-contained" in p for p in problems)
    assert _keys(s3) == []


def test_a_blank_page_is_caught(s3, store):
    # Markup, a stylesheet and a script, but nothing a visitor sees: the usual shape of a render that failed quietly.
    page = "<!doctype html><style>#app{min-height:10px}</style><div id='app'></div><script>let units = [];</script>"
    with pytest.raises(PrototypeCheckError, match="blank"):
        store.upload(INVOCATION, {"index.html": page})
    assert _keys(s3) == []


def test_a_good_page_is_uploaded_with_its_screenshot_attached(s3, store):
    files = {"index.html": GOOD.replace("</title>", "</title><link rel='stylesheet' href='css/app.css'>"),
             "css/app.css": "h1 { color: #b91c1c }"}
    result = store.upload(INVOCATION, files)
    shot_key = f"{INVOCATION}/_aidlc/screenshots/index.html.png"
    assert result["screenshot_url"] == f"{BASE}/{shot_key}"
    assert sorted(_keys(s3)) == sorted([f"{INVOCATION}/index.html", f"{INVOCATION}/css/app.css", shot_key])
    png = s3.get_object(Bucket=BUCKET, Key=shot_key)
    assert png["ContentType"] == "image/png"
    body = png["Body"].read()
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and png_size(body) == (1280, 800) and len(body) > 1000
    assert result["page_check"]["title"] == "Ambulances"
    assert "Ambulance availability" in result["page_check"]["text_excerpt"]
    # the screenshot expires with the prototype (same lifecycle tags)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=shot_key)["TagSet"]}
    assert tags["aidlc:expires"] == "true" and tags["aidlc:invocation-id"] == INVOCATION

    request = make_request("mock", title="Dispatcher sees ambulance availability")
    artifact = prototype_artifact(UploadArgs(invocation_id=INVOCATION, files=files), UploadResult(**result),
                                  ArtifactContext(request=request, agent_type="mock", outputs=frozenset({"prototype"})))
    assert artifact.metadata.screenshot_url == result["screenshot_url"]


def test_prototype_check_renders_an_uploaded_page_from_the_bucket(s3, store):
    store.upload(INVOCATION, {"index.html": GOOD, "settings.html": "<!doctype html><h1>Settings</h1>"}, variant="B")
    services = ToolServices(prototypes=store, policy=ToolPolicy.load())
    context = ToolContext(agent_type="a_b_test", invocation_id=INVOCATION, services=services,
                          allowed_tools=["prototype_check"])
    tools = ToolRegistry.default()
    checked = tools.call("prototype_check", {"invocation_id": INVOCATION, "variant": "B", "path": "settings.html"},
                         context)
    assert checked.ok, checked.error
    assert checked.content["page_check"]["text_excerpt"] == "Settings"
    assert checked.content["screenshot_url"].endswith(f"{INVOCATION}/B/_aidlc/screenshots/settings.html.png")
    missing = tools.call("prototype_check", {"invocation_id": INVOCATION, "variant": "B", "path": "nope.html"},
                         context)
    assert not missing.ok and "no uploaded page" in missing.error
    other = tools.call("prototype_check", {"invocation_id": "01JDOTHER0000000000000000", "variant": "B"}, context)
    assert other.denied  # the screenshot would be written under another run's prefix


class FakeBrowserClient:
    """The part of bedrock_agentcore's BrowserClient the adapter uses; its CDP endpoint is a real local Chromium."""

    def __init__(self, ws_url: str, calls: list) -> None:
        self.ws_url, self.calls = ws_url, calls

    def start(self, **kwargs):
        self.calls.append(("start", kwargs))
        return "session-1"

    def generate_ws_headers(self):
        self.calls.append(("headers",))
        return self.ws_url, {"X-Amz-Date": "20261202T000000Z", "Authorization": "AWS4-HMAC-SHA256 test"}

    def stop(self):
        self.calls.append(("stop",))
        return True


@pytest.fixture(scope="module")
def cdp_endpoint():
    """Chromium with a DevTools endpoint on loopback, as an AgentCore Browser session offers one over WebSocket."""
    profile = tempfile.mkdtemp(prefix="aidlc-cdp-")
    process = subprocess.Popen([CHROMIUM, "--headless=new", *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = Path(profile) / "DevToolsActivePort"
    for _ in range(200):  # Chromium writes the port it chose once it listens; this waits for it, not a timing test
        if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    port, path = port_file.read_text().splitlines()[:2]
    yield f"ws://127.0.0.1:{port}{path}"
    process.terminate()
    process.wait(timeout=10)


def test_the_agentcore_adapter_checks_over_cdp_and_always_stops_its_session(cdp_endpoint):
    # Over 10 s on a loaded machine (~5 s idle): a Playwright driver per check, three checks, as in AWS where each
    # check is its own session; the third proves the session is stopped when the connection fails.
    calls: list = []
    browser = AgentCoreBrowser("us-east-1", client_factory=lambda region: FakeBrowserClient(cdp_endpoint, calls))
    checker = PageChecker(browser)
    served = {f"{BASE}/{INVOCATION}/index.html": (GOOD.encode(), "text/html")}
    good = checker.check(f"{BASE}/{INVOCATION}/index.html", served.get)
    assert good.ok and png_size(good.screenshot_png) == (1280, 800)
    assert [c[0] for c in calls] == ["start", "headers", "stop"]
    assert calls[0][1]["identifier"] == "aws.browser.v1" and calls[0][1]["viewport"] == {"width": 1280, "height": 800}

    calls.clear()
    broken = {f"{BASE}/{INVOCATION}/index.html": (b"<h1>x</h1><script>null.f()</script>", "text/html")}
    assert not checker.check(f"{BASE}/{INVOCATION}/index.html", broken.get).ok
    assert [c[0] for c in calls] == ["start", "headers", "stop"]

    calls.clear()
    failing = AgentCoreBrowser("us-east-1", client_factory=lambda region: FakeBrowserClient("ws://127.0.0.1:9/x", calls))
    with pytest.raises(Exception):
        PageChecker(failing).check(f"{BASE}/{INVOCATION}/index.html", served.get)
    assert calls[-1] == ("stop",)  # the session is stopped even when the connection fails (no leaked billing)
    json.dumps(good.summary())  # what the tool returns is JSON


def test_the_notion_comment_shows_the_screenshot():
    from runtime.models import InvocationRecord, InvocationStatus, OutputArtifact, PrototypeMetadata, new_ulid
    from runtime.pipeline.writeback import comment_text

    url, shot = f"{BASE}/{INVOCATION}/index.html", f"{BASE}/{INVOCATION}/_aidlc/screenshots/index.html.png"
    record = InvocationRecord(
        invocation_id=new_ulid(), notion_page_id="p", workspace_id="w", project_id="proj", agent_type="mock",
        status=InvocationStatus.COMPLETED, output_artifacts=[OutputArtifact(
            type="prototype", url=url, title="Prototype: Ambulances",
            metadata=PrototypeMetadata(s3_key=f"{INVOCATION}/index.html", cloudfront_url=url, expiry_days=7,
                                       screenshot_url=shot))])
    lines = comment_text(record).splitlines()
    assert lines[lines.index(f"• Prototype: Ambulances: {url}") + 1] == f"  Screenshot: {shot}"


def test_the_boto3_browser_client_speaks_the_botocore_model():
    """The tool Lambda's bundle cannot carry bedrock-agentcore, so its sessions go through boto3 alone; Stubber
    checks each request against botocore's model of the bedrock-agentcore API."""
    from botocore.stub import Stubber

    from runtime.browser.agentcore import Boto3BrowserClient

    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", aws_session_token="tok",
                            region_name="us-east-1")
    client = session.client("bedrock-agentcore", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("start_browser_session", {"browserIdentifier": "aws.browser.v1", "sessionId": "s-1",
                                                   "createdAt": "2026-12-02T00:00:00Z"},
                         {"browserIdentifier": "aws.browser.v1", "name": "aidlc-prototype-check",
                          "sessionTimeoutSeconds": 300, "viewPort": {"width": 1280, "height": 800}})
    stubber.add_response("stop_browser_session", {"browserIdentifier": "aws.browser.v1", "sessionId": "s-1",
                                                  "lastUpdatedAt": "2026-12-02T00:00:00Z"},
                         {"browserIdentifier": "aws.browser.v1", "sessionId": "s-1"})
    with stubber:
        browser = Boto3BrowserClient("us-east-1", client=client, session=session)
        browser.start(viewport={"width": 1280, "height": 800}, session_timeout_seconds=300)
        url, headers = browser.generate_ws_headers()
        assert url == f"wss://{client.meta.endpoint_url.split('//')[1]}/browser-streams/aws.browser.v1/sessions/s-1/automation"
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/us-east-1/bedrock-agentcore/aws4_request" in headers["Authorization"]
        assert headers["X-Amz-Security-Token"] == "tok"
        assert browser.stop()
    stubber.assert_no_pending_responses()
