"""Agent app cold start: process start to `/ping` Healthy, against a bare `python -c "import strands, bedrock_agentcore"`.

The app imports strands, the MCP client and the tools at the first invocation, not at start, so a cold start
pays for the HTTP contract only. Run: .venv/bin/python bench/bench_agent_cold_start.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_imports() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import strands, bedrock_agentcore"], check=True, cwd=ROOT,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def app_to_healthy() -> float:
    port = free_port()
    env = {**os.environ, "AIDLC_AGENT": "mock", "AIDLC_MODEL": "offline", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "runtime.agent.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as response:
                    if b"Healthy" in response.read():
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("the agent app did not answer /ping in 60 s")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    bare_imports()  # warm the file cache for both
    bare = [bare_imports() for _ in range(ROUNDS)]
    app = [app_to_healthy() for _ in range(ROUNDS)]
    b, a = statistics.median(bare), statistics.median(app)
    print(f"rounds: {ROUNDS} (medians)")
    print(f"baseline  python -c 'import strands, bedrock_agentcore'   {b * 1000:7.0f} ms")
    print(f"agent app process start -> /ping Healthy               {a * 1000:7.0f} ms")
    print(f"ratio app / baseline: {a / b:.2f}")


if __name__ == "__main__":
    main()
