"""Where an agent runs code: one small interface, two adapters.

- `LocalSandbox` (runtime/sandbox/local.py): a fresh checkout in a temporary folder, each command under bubblewrap
  (no network, its own PID namespace, the rest of the file system read-only), with wall-clock, CPU, memory and
  output limits. If isolation is unavailable it refuses (`SandboxUnavailable`), never runs unisolated.
- `CodeInterpreterSandbox` (runtime/sandbox/code_interpreter.py): AgentCore Code Interpreter, one session per call,
  the files uploaded, the commands executed, the session stopped at the end.

    sandbox.run(files=[("tests/test_x.py", 0o100644, b"...")], commands=["python -m pytest -q"], limits=SandboxLimits())

`default_sandbox(github)` picks one: the local adapter beside the local git remote, Code Interpreter beside GitHub.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

FileEntry = tuple[str, int, bytes]  # (repository-relative path, git mode, content)

# The signals a limit sends, as a shell reports them (128 + signal number), and what each means to the model.
_SIGNAL_CAUSES = {128 + 9: "killed (SIGKILL)", 128 + 24: "CPU time limit reached (SIGXCPU)",
                  128 + 25: "file size limit reached (SIGXFSZ)", 128 + 6: "aborted (SIGABRT)",
                  128 + 11: "segmentation fault (SIGSEGV)"}


class SandboxUnavailable(RuntimeError):
    """Isolation is missing or broken here: the sandbox refuses to run anything."""


class SandboxError(RuntimeError):
    """The sandbox could not run the commands (not a failing command: that is a result)."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 300.0  # per command
    cpu_seconds: int = 300  # per command (RLIMIT_CPU)
    memory_bytes: int = 2 * 1024**3  # address space per process (RLIMIT_AS)
    output_bytes: int = 1024**2  # stdout + stderr per command: past it the command is stopped
    checkout_bytes: int = 64 * 1024**2  # a branch larger than this is not checked out


@dataclass
class CommandResult:
    command: str
    exit_code: int | None  # None: it never finished (stopped by the wall clock)
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    output_limited: bool = False
    stopped: str | None = None  # why a limit stopped it, in words

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.output_limited

    def explain(self) -> CommandResult:
        """Fill in `stopped` from the exit code when a limit's signal ended the command."""
        if self.stopped is None and self.exit_code in _SIGNAL_CAUSES:
            self.stopped = _SIGNAL_CAUSES[self.exit_code]
        if self.stopped is None and "MemoryError" in self.stderr:
            self.stopped = "memory limit reached (MemoryError)"
        return self


@runtime_checkable
class CodeSandbox(Protocol):
    name: str  # "bubblewrap" or "agentcore-code-interpreter": shown in results and PR bodies

    def run(self, files: list[FileEntry], commands: list[str], limits: SandboxLimits) -> list[CommandResult]:
        """Check `files` out in a fresh place, run each command there in order (a failing command does not stop
        the next), and answer one result each. Raises SandboxUnavailable when it cannot isolate them."""


def default_sandbox(github: Any, env: dict[str, str] | None = None) -> CodeSandbox:
    """The sandbox beside a GitHub backend: the local remote's code runs locally under bubblewrap; a GitHub
    repository's code runs in AgentCore Code Interpreter, in the region the process runs in."""
    from runtime.github.local import LocalGitBackend

    if isinstance(github, LocalGitBackend):
        return _local_sandbox()
    from runtime.sandbox.code_interpreter import CodeInterpreterSandbox

    env = dict(os.environ) if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise SandboxUnavailable("no AWS region for AgentCore Code Interpreter (AWS_REGION is unset)")
    return CodeInterpreterSandbox(region)


@functools.cache
def _local_sandbox() -> CodeSandbox:
    """One per process, so its isolation self-check runs once, not on every call."""
    from runtime.sandbox.local import LocalSandbox

    return LocalSandbox()


__all__ = ["CodeSandbox", "CommandResult", "FileEntry", "SandboxError", "SandboxLimits", "SandboxUnavailable",
           "default_sandbox"]
