"""Headless Chromium on this machine (Debian's `chromium` package), driven by the `playwright` package.

Playwright's own browser download cannot work here, so the executable is `/usr/bin/chromium`, launched with the
flags ARCHITECTURE.md gives ("Browser tests"): without the background-networking ones Chromium keeps trying the
closed network. One Chromium serves every check: it is started on first use on a thread of its own (Playwright's
sync API belongs to the thread that started it) and stopped by `close()`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "LocalChromium", "chromium_available"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")
CHECK_TIMEOUT_SECONDS = 60


def chromium_available(executable: str = CHROMIUM) -> bool:
    return os.access(executable, os.X_OK)


class LocalChromium:
    """A `BrowserProvider` (runtime.browser) over one headless Chromium, started lazily."""

    def __init__(self, executable_path: str = CHROMIUM, args: tuple[str, ...] = CHROMIUM_ARGS) -> None:
        self.executable_path = executable_path
        self.args = tuple(args)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._playwright: Any = None
        self._browser: Any = None

    def run(self, work: Callable[[Any], Any]) -> Any:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aidlc-chromium")
            executor = self._executor
        return executor.submit(self._on_thread, work).result(timeout=CHECK_TIMEOUT_SECONDS)

    def _on_thread(self, work: Callable[[Any], Any]) -> Any:
        if self._browser is None or not self._browser.is_connected():
            if not chromium_available(self.executable_path):
                raise RuntimeError(f"no Chromium at {self.executable_path}: install Debian's chromium package "
                                   "(the project's set-up does)")
            from playwright.sync_api import sync_playwright

            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable_path, headless=True, args=list(self.args))
        return work(self._browser)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return

        def stop() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()
            self._browser = self._playwright = None

        executor.submit(stop).result(timeout=CHECK_TIMEOUT_SECONDS)
        executor.shutdown(wait=True)
