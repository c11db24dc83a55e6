"""Benchmark: a tool call through the MCP surface (streamable HTTP on loopback, one open session) against a direct
in-process `ToolRegistry.call` of the same tool, with the same policy and audit hook on both paths.

Two tools: `prototype_url` (pure computation: the MCP overhead alone) and `github_read_file` on a local git remote
(a tool that does real work). Prints per-call latency and the MCP/direct ratio measured in this run.

    .venv/bin/python bench/bench_mcp_tool_call.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.github.local import LocalGitBackend  # noqa: E402
from runtime.policy import ToolPolicy  # noqa: E402
from runtime.prototypes import PrototypeStore  # noqa: E402
from runtime.tools.audit import MemoryAuditSink  # noqa: E402
from runtime.tools.mcp_client import MCPToolClient  # noqa: E402
from runtime.tools.mcp_server import serve_mcp  # noqa: E402
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices  # noqa: E402

CALLS = 300
WARMUP = 20
INVOCATION = "01JDBENCH00000000000000000"


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        audit = MemoryAuditSink()
        services = ToolServices(
            github=LocalGitBackend(Path(tmp) / "bench.git"),
            prototypes=PrototypeStore("bench-bucket", "http://127.0.0.1:1/prototypes", s3_client=object()),
            policy=ToolPolicy.load(),
            audit=audit,
        )
        tools = ToolRegistry.default()
        cases = {
            "prototype_url": ("mock", {"invocation_id": INVOCATION, "path": "index.html"}),
            "github_read_file": ("code", {"path": "README.md"}),
        }
        handle = serve_mcp(tools, services)
        try:
            print(f"tool call: MCP (streamable HTTP, loopback, one session) vs direct ToolRegistry.call; {CALLS} calls each")
            print(f"{'tool':<18} {'direct ms (median/mean)':>24} {'MCP ms (median/mean)':>22} {'ratio (median)':>15}")
            for tool, (agent, args) in cases.items():
                context = ToolContext(agent_type=agent, invocation_id=INVOCATION, services=services)

                def direct() -> None:
                    result = tools.call(tool, args, context)
                    assert result.ok, result.error

                with MCPToolClient(handle.url, token=handle.tokens.issue(agent, INVOCATION), agent=agent,
                                   invocation_id=INVOCATION) as client:
                    def over_mcp() -> None:
                        client.call(tool, args)

                    timed(direct, WARMUP)
                    timed(over_mcp, WARMUP)
                    d = timed(direct, CALLS)
                    m = timed(over_mcp, CALLS)
                ratio = statistics.median(m) / statistics.median(d)
                print(f"{tool:<18} {statistics.median(d):>11.3f} / {statistics.fmean(d):<10.3f} "
                      f"{statistics.median(m):>9.3f} / {statistics.fmean(m):<10.3f} {ratio:>10.1f}x")
            print(f"audit records written: {len(audit.records)} (every call, both paths)")
        finally:
            handle.stop()


if __name__ == "__main__":
    main()
