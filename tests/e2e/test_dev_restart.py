"""`aidlc dev` as a person runs it: start, use, Ctrl-C, start again on the same state: nothing is lost."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_local_stack import TERMINAL

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dev(port, state):
    proc = subprocess.Popen(
        [sys.executable, "-c", "from runtime.cli import main; main()", "dev", "--port", str(port), "--state", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            info = httpx.get(f"http://127.0.0.1:{port}/dev/info", timeout=2).json()
            if info.get("webhook_url"):
                return proc, info
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("aidlc dev did not become ready")


def stop_dev(proc):
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    return proc.returncode, output


def test_restart_keeps_stories_invocations_and_prototypes(tmp_path):
    port, state = free_port(), tmp_path / "state"
    proc, info = start_dev(port, state)
    try:
        notion = httpx.Client(base_url=info["notion_api_base"], timeout=30,
                              headers={"Authorization": f"Bearer {info['notion_user_token']}",
                                       "Notion-Version": "2025-09-03"})
        page = notion.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": info["stories_data_source_id"]},
            "properties": {"Name": {"title": [{"text": {"content": "Courier confirms delivery with a photo"}}]},
                           "Acceptance Criteria": {"rich_text": [{"text": {"content": "- A photo is required"}}]}},
        }).json()
        notion.patch(f"/v1/pages/{page['id']}", json={"properties": {"Status": {"status": {"name": "Generate Prototype"}}}})
        api = f"http://127.0.0.1:{port}/project/{info['project_id']}/invocations"
        deadline, mock = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            runs = [r for r in httpx.get(api, timeout=10).json()["invocations"] if r["notion_page_id"] == page["id"]]
            mock = next((r for r in runs if r["agent_type"] == "mock" and r["status"] in TERMINAL), None)
            if mock and all(r["status"] in TERMINAL for r in runs) and len(runs) == 2:
                break
            time.sleep(0.5)
        assert mock and mock["status"] == "completed", runs
    finally:
        code, output = stop_dev(proc)
    assert code == 0, output
    assert "stopped; state kept in" in output
    assert "mock" in output and "completed" in output  # the readable pipeline log

    proc, info2 = start_dev(port, state)
    try:
        assert info2["stories_data_source_id"] == info["stories_data_source_id"]
        record = httpx.get(f"http://127.0.0.1:{port}/invocation/{mock['invocation_id']}", timeout=10).json()
        assert record["status"] == "completed"
        prototype = next(a for a in record["output_artifacts"] if a["type"] == "prototype")
        page_html = httpx.get(prototype["url"], timeout=10)
        assert page_html.status_code == 200 and "A photo is required" in page_html.text
        story = httpx.get(f"{info2['notion_api_base']}/v1/pages/{page['id']}", timeout=10,
                          headers={"Authorization": f"Bearer {info2['notion_token']}", "Notion-Version": "2025-09-03"})
        assert story.status_code == 200
    finally:
        code, output = stop_dev(proc)
    assert code == 0, output
