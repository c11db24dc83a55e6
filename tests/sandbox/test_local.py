"""The local sandbox (runtime/sandbox/local.py) really isolates and really limits: each test runs real commands
under bubblewrap. A sandbox that ran commands unisolated, or ignored a limit, fails here."""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading

import pytest

from runtime.sandbox import SandboxLimits, SandboxUnavailable
from runtime.sandbox.local import LocalSandbox, write_checkout

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/bwrap"), reason="bubblewrap is installed by .ci/setup")

PASSING = b"def test_adds():\n    assert 1 + 1 == 2\n"
FAILING = b"def test_adds():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n"
QUICK = SandboxLimits(wall_seconds=60, cpu_seconds=60, memory_bytes=1024**3, output_bytes=64 * 1024)


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    box = LocalSandbox()
    box.check_isolation()
    return box


def test_a_passing_and_a_failing_test_run(sandbox):
    files = [("tests/test_ok.py", 0o100644, PASSING), ("tests/test_bad.py", 0o100644, FAILING)]
    # one pytest start (each costs seconds on a loaded machine): the plugins are not needed here
    ok, bad = sandbox.run(files, ["PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q -p no:cacheprovider "
                                  "tests/test_ok.py",
                                  "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q -p no:cacheprovider "
                                  "tests/test_bad.py"], QUICK)
    assert ok.passed and ok.exit_code == 0 and "1 passed" in ok.stdout
    assert not bad.passed and bad.exit_code == 1 and "1 failed" in bad.stdout
    assert "arithmetic is broken" in bad.stdout and bad.stopped is None


def test_the_checkout_is_fresh_and_the_rest_read_only(sandbox, tmp_path):
    files = [("run.sh", 0o100755, b"#!/bin/sh\necho ran > out.txt && cat out.txt\n")]
    first, outside, tmp = sandbox.run(files, ["./run.sh", f"touch {tmp_path}/escaped", "ls -A /tmp | wc -l"], QUICK)
    assert first.passed and first.stdout == "ran\n"  # the executable bit survived the checkout
    assert not outside.passed and not (tmp_path / "escaped").exists()  # the file system outside is read-only
    assert tmp.stdout.strip() == "1"  # a private /tmp: only the checkout's own folder is in it
    again = sandbox.run([], ["test ! -e out.txt"], QUICK)[0]
    assert again.passed  # a new run starts from a new checkout


def test_a_timeout_kills_the_command(sandbox):
    limits = SandboxLimits(wall_seconds=1, cpu_seconds=60, memory_bytes=1024**3, output_bytes=64 * 1024)
    result = sandbox.run([], ["echo started; sleep 60; echo never"], limits)[0]
    assert result.timed_out and result.exit_code is None and not result.passed
    assert result.stdout == "started\n" and "wall-clock limit of 1 s" in result.stopped


def test_an_output_flood_is_cut_and_stopped(sandbox):
    result = sandbox.run([], ["yes flood"], QUICK)[0]  # would print forever
    assert result.output_limited and not result.passed and "output limit" in result.stopped
    assert len(result.stdout.encode()) <= QUICK.output_bytes and result.stdout.startswith("flood\nflood\n")


def test_a_network_attempt_is_refused(sandbox):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    probe = (f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); "
             "print('connected')\"")
    try:
        result = sandbox.run([], [probe], QUICK)[0]
        assert not result.passed and "connected" not in result.stdout
        assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr
        assert not accepted  # nothing reached the listener...
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # ...which does accept from outside
        thread.join(5)
        assert accepted
    finally:
        server.close()


def test_a_memory_hog_is_stopped(sandbox):
    limits = SandboxLimits(wall_seconds=60, cpu_seconds=60, memory_bytes=256 * 1024**2, output_bytes=64 * 1024)
    hog = "python -c \"blocks = [bytearray(64 * 1024**2) for _ in range(64)]; print('got 4 GiB')\""
    result = sandbox.run([], [hog], limits)[0]
    assert not result.passed and "got 4 GiB" not in result.stdout
    assert result.stopped == "memory limit reached (MemoryError)"


def test_a_cpu_hog_is_stopped(sandbox):
    limits = SandboxLimits(wall_seconds=60, cpu_seconds=1, memory_bytes=1024**3, output_bytes=64 * 1024)
    result = sandbox.run([], ["while :; do :; done"], limits)[0]
    assert not result.passed and not result.timed_out and "CPU time limit" in result.stopped


def test_refuses_without_bubblewrap(tmp_path):
    box = LocalSandbox(bwrap=str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable, match="not installed"):
        box.run([], ["echo should not run > /tmp/ran"], QUICK)


def test_refuses_when_bubblewrap_fails_its_self_check(tmp_path):
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="self-check"):
        LocalSandbox(bwrap=str(broken)).run([], ["true"], QUICK)


def test_refuses_a_bwrap_that_does_not_isolate_the_network(tmp_path):
    """A stand-in that drops its flags and runs the command unisolated: the self-check sees the host's network
    interfaces from inside and refuses; a check that only looked at the exit code would run the code."""
    marker = tmp_path / "ran"
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift\nexec \"$@\"\n")
    fake.chmod(0o755)
    if [line for line in open("/proc/net/dev").read().splitlines()[2:] if not line.strip().startswith("lo:")] == []:
        pytest.skip("this machine itself has no interface but loopback")
    with pytest.raises(SandboxUnavailable, match="no network isolation"):
        LocalSandbox(bwrap=str(fake)).run([], [f"touch {marker}"], QUICK)
    assert not marker.exists()


def test_checkout_refuses_paths_that_leave_it(tmp_path):
    from runtime.sandbox import SandboxError

    with pytest.raises(SandboxError, match="leaves the checkout"):
        write_checkout(tmp_path / "c", [("link", 0o120000, b"/etc"), ("link/passwd", 0o100644, b"x")])
    write_checkout(tmp_path / "d", [("bin/tool", 0o100755, b"#!/bin/sh\n")])
    assert (tmp_path / "d" / "bin" / "tool").stat().st_mode & stat.S_IXUSR
