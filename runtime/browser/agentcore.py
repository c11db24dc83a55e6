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

__all__ = ["AgentCoreBrowser", "SYSTEM_BROWSER"]

SYSTEM_BROWSER = "aws.browser.v1"
SESSION_TIMEOUT_SECONDS = 300
CHECK_TIMEOUT_SECONDS = 120


def _browser_client(region: str) -> Any:
    from bedrock_agentcore.tools.browser_client import BrowserClient

    return BrowserClient(region)


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
