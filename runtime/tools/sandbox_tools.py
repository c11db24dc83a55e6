"""The sandbox tool: run commands (the project's tests, a linter, a script) against a fresh checkout of a branch.

Where it runs is the services' `sandbox` (runtime/sandbox): bubblewrap beside the local git remote, AgentCore Code
Interpreter beside GitHub. Each call checks the branch out afresh, so what passes here is what the branch holds, not
what an earlier call left behind. When isolation is unavailable the tool refuses: the call fails with the reason,
and nothing runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.sandbox import CommandResult, SandboxLimits, SandboxUnavailable, default_sandbox
from runtime.tools.base import ToolContext, ToolError
from runtime.tools.spec import ToolResultModel, ToolSpec

MAX_COMMANDS = 5
STDOUT_TAIL = 12_000  # characters of each command's stdout the model is shown (the end: where test summaries are)
STDERR_TAIL = 4_000
CUT = "[aidlc: TRUNCATED, the first {left} characters not shown]\n"


def tail(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return CUT.format(left=len(text) - limit) + text[-limit:], True


class SandboxRunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    branch: str = Field(min_length=1, description="Branch (or commit) to check out; commit your files first")
    commands: list[str] = Field(min_length=1, max_length=MAX_COMMANDS, description="Shell commands, run in order "
                                "in the checkout's root, e.g. ['python -m pytest -q']; there is no network")
    timeout_seconds: int = Field(default=300, ge=5, le=600, description="Wall-clock limit for each command")


class CommandRun(ToolResultModel):
    command: str
    exit_code: int | None = Field(description="None when the command was killed before it finished")
    passed: bool
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    output_limited: bool = False
    truncated: bool = False
    stopped: str | None = Field(default=None, description="Which limit stopped the command, if one did")


class SandboxRunResult(ToolResultModel):
    branch: str
    sha: str
    sandbox: str
    passed: bool = Field(description="Every command exited 0 within its limits")
    runs: list[CommandRun]


def _run_payload(result: CommandResult) -> dict[str, Any]:
    stdout, cut_out = tail(result.stdout, STDOUT_TAIL)
    stderr, cut_err = tail(result.stderr, STDERR_TAIL)
    return {"command": result.command, "exit_code": result.exit_code, "passed": result.passed, "stdout": stdout,
            "stderr": stderr, "duration_s": result.duration_s, "timed_out": result.timed_out,
            "output_limited": result.output_limited, "truncated": cut_out or cut_err, "stopped": result.stopped}


def sandbox_run(context: ToolContext, args: SandboxRunArgs) -> dict[str, Any]:
    github = context.services.require("github", "sandbox_run")
    sandbox = context.services.sandbox
    limits = SandboxLimits(wall_seconds=float(args.timeout_seconds), cpu_seconds=args.timeout_seconds)
    try:
        if sandbox is None:
            sandbox = default_sandbox(github)
        tree = github.export_tree(args.branch, limits.checkout_bytes)
        results = sandbox.run(tree["files"], list(args.commands), limits)
    except SandboxUnavailable as exc:
        raise ToolError(f"refused, nothing was run: {exc}") from exc
    runs = [_run_payload(result) for result in results]
    return {"branch": args.branch, "sha": tree["sha"], "sandbox": sandbox.name,
            "passed": all(run["passed"] for run in runs), "runs": runs}


TOOLS = [
    ToolSpec("sandbox_run", "Run shell commands (tests, linters, scripts) against a fresh checkout of a branch in an "
             "isolated sandbox with no network; answers each command's exit code and output (the end of it).",
             "sandbox", SandboxRunArgs, sandbox_run, result_model=SandboxRunResult),
]
