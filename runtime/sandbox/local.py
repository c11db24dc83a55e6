"""The local sandbox: each run in a fresh temporary checkout, each command under bubblewrap.

    bwrap --ro-bind / / --tmpfs /tmp --bind <checkout> <checkout> --dev /dev --proc /proc
          --unshare-all --die-with-parent --new-session --clearenv --setenv PATH ... --chdir <checkout> -- /bin/sh -c CMD

- no network: `--unshare-all` includes a new network namespace with only a down loopback (a connect anywhere,
  loopback included, fails);
- its own PID namespace, IPC, UTS; the whole file system read-only but the checkout, and an empty private /tmp (so
  nothing else the machine keeps in /tmp is readable);
- an empty environment but PATH, HOME and LANG (no token or AWS credential leaks into the code under test);
- limits, set in the child before bwrap starts (`resource.setrlimit`; inherited by everything it runs): address
  space (memory), CPU seconds, file size; the wall clock and the output size are watched from here, and past either
  the whole process group is killed (bwrap's --die-with-parent and the PID namespace take everything inside along).

Before the first run a self-check runs a command under the same flags and reads `/proc/net/dev` from inside: if
bwrap is missing, fails, or the command can see a network interface other than `lo`, the sandbox refuses every run
(`SandboxUnavailable`); it never falls back to running unisolated.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from runtime.sandbox import CommandResult, FileEntry, SandboxError, SandboxLimits, SandboxUnavailable

SYMLINK_MODE = 0o120000
EXECUTABLE_BIT = 0o100


class LocalSandbox:
    name = "bubblewrap"

    def __init__(self, bwrap: str | None = None, *, python_bin_dir: str | None = None) -> None:
        self.bwrap = bwrap if bwrap is not None else (shutil.which("bwrap") or "bwrap")
        # `python` inside is this interpreter's (the venv's, with pytest), then the system's tools
        self.path = ":".join([python_bin_dir or str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        self._checked: str | None = None  # "ok", or why isolation is unavailable
        self._lock = threading.Lock()

    # --- the port --------------------------------------------------------------------------------------------

    def run(self, files: list[FileEntry], commands: list[str], limits: SandboxLimits) -> list[CommandResult]:
        self.check_isolation()
        with tempfile.TemporaryDirectory(prefix="aidlc-sandbox-") as parent:
            checkout = Path(parent) / "checkout"
            write_checkout(checkout, files)
            return [self._run_one(checkout, command, limits) for command in commands]

    def check_isolation(self) -> None:
        """Raise SandboxUnavailable unless bwrap runs a command with no network; checked once per instance."""
        with self._lock:
            if self._checked is None:
                self._checked = self._self_check()
        if self._checked != "ok":
            raise SandboxUnavailable(f"the sandbox refuses to run code here: {self._checked}")

    # --- internals -------------------------------------------------------------------------------------------

    def _self_check(self) -> str:
        if not os.path.isfile(self.bwrap) and shutil.which(self.bwrap) is None:
            return f"bubblewrap ({self.bwrap!r}) is not installed (Debian: apt-get install bubblewrap)"
        with tempfile.TemporaryDirectory(prefix="aidlc-sandbox-check-") as folder:
            try:
                proc = subprocess.run(self._argv(Path(folder), "cat /proc/net/dev"), capture_output=True,
                                      timeout=30, check=False, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"bubblewrap failed its self-check: {exc}"
        if proc.returncode != 0:
            error = proc.stderr.decode("utf-8", errors="replace").strip()[:300]
            return f"bubblewrap failed its self-check (exit {proc.returncode}): {error}"
        interfaces = [line.split(":", 1)[0].strip() for line in proc.stdout.decode().splitlines()[2:] if ":" in line]
        if not interfaces or any(name != "lo" for name in interfaces):
            return f"bubblewrap's self-check saw network interfaces {interfaces}: no network isolation"
        return "ok"

    def _argv(self, checkout: Path, command: str) -> list[str]:
        where = str(checkout)
        return [
            self.bwrap, "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", where, where,
            "--dev", "/dev", "--proc", "/proc",
            "--unshare-all", "--die-with-parent", "--new-session",
            "--clearenv", "--setenv", "PATH", self.path, "--setenv", "HOME", where, "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "CI", "1",
            "--chdir", where, "--", "/bin/sh", "-c", command,
        ]

    def _run_one(self, checkout: Path, command: str, limits: SandboxLimits) -> CommandResult:
        rlimits = {resource.RLIMIT_AS: limits.memory_bytes, resource.RLIMIT_CPU: limits.cpu_seconds,
                   resource.RLIMIT_FSIZE: limits.checkout_bytes, resource.RLIMIT_CORE: 0}
        argv, preexec = self._argv(checkout, command), None
        prlimit = shutil.which("prlimit")
        if prlimit:  # util-linux's prlimit sets them and execs bwrap: no Python runs between fork and exec
            # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL a second later at the hard one
            argv = [prlimit, f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
                    f"--fsize={limits.checkout_bytes}", "--core=0", "--", *argv]
        else:  # preexec_fn is unsafe with threads in general, but setrlimit takes no lock: acceptable fallback
            def preexec() -> None:
                for which, value in rlimits.items():
                    resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))

        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, preexec_fn=preexec, start_new_session=True)
        except OSError as exc:
            raise SandboxError(f"could not start bubblewrap: {exc}") from exc
        output = _Output(limits.output_bytes, on_flood=lambda: _kill(proc))
        readers = [threading.Thread(target=output.drain, args=(stream, name), daemon=True)
                   for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc)
            proc.wait()
        for reader in readers:
            reader.join()
        result = CommandResult(
            command=command, exit_code=None if timed_out else proc.returncode,
            stdout=output.text("stdout"), stderr=output.text("stderr"),
            duration_s=round(time.monotonic() - started, 3), timed_out=timed_out, output_limited=output.flooded,
        )
        if timed_out:
            result.stopped = f"wall-clock limit of {limits.wall_seconds:g} s reached; the command was killed"
        elif output.flooded:
            result.stopped = f"output limit of {limits.output_bytes} bytes reached; the command was killed"
        return result.explain()


class _Output:
    """Both streams of one command, kept up to `limit` bytes in all; past it `on_flood` runs once (the command is
    killed) and the rest is read and dropped, so the pipe never blocks the dying process."""

    def __init__(self, limit: int, on_flood) -> None:
        self.limit = limit
        self.on_flood = on_flood
        self.kept = {"stdout": bytearray(), "stderr": bytearray()}
        self.total = 0
        self.flooded = False
        self._lock = threading.Lock()

    def drain(self, stream, name: str) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                room = max(0, self.limit - self.total)
                self.kept[name] += chunk[:room]
                self.total += len(chunk)
                flood = self.total > self.limit and not self.flooded
                if flood:
                    self.flooded = True
            if flood:
                self.on_flood()
        stream.close()

    def text(self, name: str) -> str:
        return self.kept[name].decode("utf-8", errors="replace")


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: bwrap leads its own process group
    except ProcessLookupError:
        pass


def write_checkout(folder: Path, files: list[FileEntry]) -> None:
    """The files of a commit into `folder`, as git would check them out (executable bit, symbolic links)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for path, mode, data in files:
        target = (folder / path).resolve()
        if root not in target.parents:
            raise SandboxError(f"refusing to check out {path!r}: it leaves the checkout folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == SYMLINK_MODE:
            os.symlink(data.decode("utf-8", errors="replace"), target)
            continue
        target.write_bytes(data)
        if mode & EXECUTABLE_BIT:
            target.chmod(0o755)
