"""The browser check: a prototype page loaded in a real browser, its errors collected, a PNG screenshot taken.

The port is `BrowserProvider`: something that hands out a Playwright `Browser` for the length of a `with` block.
Two adapters stand behind it:

- `runtime.browser.local.LocalChromium`: Debian's headless Chromium through the `playwright` package (local stack,
  tests);
- `runtime.browser.agentcore.AgentCoreBrowser`: an AgentCore Browser session (`bedrock_agentcore.tools.
  browser_client`), whose CDP endpoint Playwright connects to (AWS).

`PageChecker.check(url, serve)` is the same on both: the page is opened at its real URL, but every request is
answered from `serve(url)` (the bundle being uploaded, or the bucket it was uploaded to) and anything else is
refused and reported, so a prototype that reaches for a CDN fails here rather than in front of a customer. The
check fails on a console error, an uncaught page error, a refused request or a blank page (no visible text and no
visible image, SVG, canvas or control).

Nothing here imports Playwright at import time; each adapter runs Playwright on a thread of its own, so a caller
inside an asyncio loop (the MCP server, the AgentCore app) can use it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["BrowserCheckError", "BrowserProvider", "PageCheck", "PageChecker", "Serve", "png_size"]

VIEWPORT = {"width": 1280, "height": 800}
TEXT_EXCERPT_CHARS = 600
LOAD_TIMEOUT_MS = 15_000
SETTLE_MS = 150  # after `load`: lets timers the page sets at start-up (a failing setTimeout) run and report

# url -> (body, content type), or None when the bundle has no such file
Serve = Callable[[str], "tuple[bytes, str] | None"]


class BrowserCheckError(ValueError):
    """The page did not pass the check: console errors, page errors, refused requests or a blank page."""

    def __init__(self, check: PageCheck) -> None:
        self.check = check
        super().__init__(f"the prototype page {check.url} failed the browser check: " + "; ".join(check.problems))


class BrowserProvider(Protocol):
    """Hands out a Playwright `Browser` (sync API) for a `with` block, and runs callables on the thread that owns
    it (Playwright's sync API is bound to the thread that started it)."""

    def run(self, work: Callable[[Any], Any]) -> Any:
        """`work(browser)` on the browser's own thread; its result or its exception."""
        ...


@dataclass
class PageCheck:
    url: str
    title: str = ""
    text_excerpt: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    refused_requests: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    blank: bool = False
    screenshot_png: bytes = b""
    width: int = 0
    height: int = 0

    @property
    def problems(self) -> list[str]:
        found = [f"console error: {text}" for text in self.console_errors]
        found += [f"uncaught error: {text}" for text in self.page_errors]
        found += [f"request outside the bundle refused (a prototype must be self-contained): {url}"
                  for url in self.refused_requests]
        found += [f"file not in the bundle: {url}" for url in self.missing_files]
        if self.blank:
            found.append("the page is blank: no visible text, image or control after it loaded")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        """What a model reads of the check (the screenshot itself is uploaded; its URL goes with this)."""
        return {"title": self.title, "text_excerpt": self.text_excerpt, "width": self.width, "height": self.height,
                "console_errors": self.console_errors, "page_errors": self.page_errors,
                "refused_requests": self.refused_requests, "missing_files": self.missing_files, "blank": self.blank}


# Visible content: text, or an element that shows something without text. Runs in the page.
_BLANK_PROBE = """() => {
  const text = (document.body && document.body.innerText || '').trim();
  const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
                          return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const shown = [...document.querySelectorAll('img, svg, canvas, video, input, button, select, textarea')]
                .some(visible);
  return {text: text.slice(0, %d), blank: !text && !shown};
}""" % TEXT_EXCERPT_CHARS


class PageChecker:
    """Loads one page in the provider's browser and reports what a visitor would have seen."""

    def __init__(self, provider: BrowserProvider, *, viewport: dict[str, int] | None = None) -> None:
        self.provider = provider
        self.viewport = dict(viewport or VIEWPORT)

    def check(self, url: str, serve: Serve) -> PageCheck:
        return self.provider.run(lambda browser: self._check(browser, url, serve))

    def _check(self, browser: Any, url: str, serve: Serve) -> PageCheck:
        result = PageCheck(url=url)
        context = browser.new_context(viewport=self.viewport, service_workers="block")
        try:
            page = context.new_page()
            page.on("console", lambda message: result.console_errors.append(message.text)
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: result.page_errors.append(str(error)))

            def answer(route: Any) -> None:
                request_url = route.request.url
                found = serve(request_url)
                if found is not None:
                    body, content_type = found
                    route.fulfill(status=200, body=body, content_type=content_type)
                elif _same_folder(request_url, url):
                    if not request_url.rstrip("/").endswith("favicon.ico"):
                        result.missing_files.append(request_url)
                    route.fulfill(status=404, body=b"", content_type="text/plain")
                else:
                    result.refused_requests.append(request_url)
                    route.abort("blockedbyclient")

            context.route("**/*", answer)
            page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_timeout(SETTLE_MS)
            probe = page.evaluate(_BLANK_PROBE)
            result.title = page.title()
            result.text_excerpt = " ".join(str(probe["text"]).split())
            result.blank = bool(probe["blank"])
            result.screenshot_png = page.screenshot(type="png", full_page=False)
            result.width, result.height = png_size(result.screenshot_png)
            # a refused request shows up as a console error too ("Failed to load resource"); report it once
            result.console_errors = [text for text in result.console_errors
                                     if not (text.startswith("Failed to load resource")
                                             and (result.refused_requests or result.missing_files))]
        finally:
            context.close()
        return result


def _same_folder(request_url: str, page_url: str) -> bool:
    return request_url.startswith(page_url.rsplit("/", 1)[0] + "/")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; a ValueError when `data` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height

