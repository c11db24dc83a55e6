"""`aidlc dev` as a separate process, for the tests that start, kill and restart it as a person would, and the
tests' polling."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from runtime.local import polling

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dev(port, state, log: Path):
    """`aidlc dev` on `port` and `state`, its output appended to `log`; returns (process, /dev/info) once ready."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from runtime.cli import main; main()", "dev", "--port", str(port), "--state", str(state)],
        cwd=ROOT, stdout=log.open("a"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            info = httpx.get(f"http://127.0.0.1:{port}/dev/info", timeout=2).json()
            if info.get("webhook_url"):
                return proc, info
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("aidlc dev did not become ready:\n" + log.read_text())


def notion_as_person(info):
    """The Notion emulator's API as the person (the user token) would call it."""
    return httpx.Client(base_url=info["notion_api_base"], timeout=30, headers={
        "Authorization": f"Bearer {info['notion_user_token']}", "Notion-Version": "2025-09-03"})


def wait_until(predicate, what, timeout=120, every=0.05):
    """`predicate()`'s first truthy value, polled every `every` seconds; fails the test after `timeout` seconds."""
    try:
        return polling.wait_until(predicate, timeout=timeout, interval=every, what=what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None
