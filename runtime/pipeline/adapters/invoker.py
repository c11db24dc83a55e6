"""Starting and stopping an agent run: one interface, AgentCore Runtime in AWS, a loopback HTTP app locally.

Both only start the run: the agent answers at once ("accepted") and reports through the completion queue.
Errors are sorted into `TransientInvokeError` (throttling, 5xx, connection trouble: worth retrying) and
`InvokeError` (bad request, unknown runtime: retrying won't help).
"""

from __future__ import annotations

from typing import Any

from runtime.lazy import given_or_built
from runtime.models import AgentRequest
from runtime.pipeline.ports import AgentInvoker, InvokeError, InvokeUnanswered, TransientInvokeError
from runtime.resources import Header

SESSION_HEADER = Header.AGENTCORE_SESSION

# The agent answers "accepted" at once (the work runs as an async task), so a start that takes longer than this is a
# hung runtime: the orchestrator's batch must not wait behind it (issue 17: one hung agent blocked every start ~94 s).
ACCEPT_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
# In AWS a new session's first request also waits for its microVM to start: a longer bound, still one attempt.
AGENTCORE_ACCEPT_TIMEOUT_SECONDS = 15.0


_TRANSIENT_CODES = {
    "ThrottlingException",
    "ServiceQuotaExceededException",
    "InternalServerException",
    "ServiceUnavailableException",
    "RuntimeClientError",
    "ConflictException",
}


class AgentCoreInvoker:
    """`InvokeAgentRuntime` through boto3's `bedrock-agentcore` client."""

    def __init__(self, runtime_arns: dict[str, str], qualifier: str = "DEFAULT", client: Any | None = None,
                 clients: Any | None = None) -> None:
        self.runtime_arns = runtime_arns
        self.qualifier = qualifier
        self._client = client
        self._clients = clients  # runtime.aws_clients.AwsClients of the calling function; None: the process's

    @given_or_built
    def client(self) -> Any:
        from runtime.aws_clients import default_clients

        return (self._clients or default_clients()).client("bedrock-agentcore", config=_accept_config())

    def _arn(self, agent_type: str) -> str:
        try:
            return self.runtime_arns[agent_type]
        except KeyError:
            raise InvokeError(f"no AgentCore runtime is configured for agent {agent_type!r}") from None

    def invoke(self, request: AgentRequest) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, ReadTimeoutError

        try:
            response = self.client.invoke_agent_runtime(
                agentRuntimeArn=self._arn(request.agent_type),
                qualifier=request.endpoint or self.qualifier,  # the versioned endpoint the orchestrator chose
                runtimeSessionId=request.session_id,
                contentType="application/json",
                accept="application/json",
                payload=request.model_dump_json().encode(),
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = f"InvokeAgentRuntime failed: {code}: {exc.response.get('Error', {}).get('Message', '')}"
            if code in _TRANSIENT_CODES or status >= 500 or status == 429:
                raise TransientInvokeError(message) from None
            raise InvokeError(message) from None
        except ParamValidationError as exc:  # the request breaks the service model: no retry can fix it
            raise InvokeError(f"InvokeAgentRuntime refused before sending: {exc}") from None
        except ReadTimeoutError as exc:  # sent, not answered: maybe accepted (see InvokeUnanswered)
            raise InvokeUnanswered(f"InvokeAgentRuntime sent but not answered in {AGENTCORE_ACCEPT_TIMEOUT_SECONDS} s: "
                                   f"{exc}") from None
        except BotoCoreError as exc:  # connection errors, after botocore's own retries
            raise TransientInvokeError(f"InvokeAgentRuntime failed: {exc}") from None
        status = response.get("statusCode", 200)
        if status >= 500:
            raise TransientInvokeError(f"agent runtime answered {status}")
        if status >= 400:
            raise InvokeError(f"agent runtime answered {status}")
        body = response.get("response")
        if body is not None and hasattr(body, "read"):
            body.read()  # the "accepted" answer; drain the stream so the connection is reused

    def stop(self, agent_type: str, session_id: str, endpoint: str | None = None) -> None:
        """`endpoint`: the one the run was started on (InvocationRecord.agent_endpoint); its session lives there."""
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            self.client.stop_runtime_session(
                agentRuntimeArn=self._arn(agent_type), qualifier=endpoint or self.qualifier,
                runtimeSessionId=session_id,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise InvokeError(f"StopRuntimeSession failed: {exc}") from None
        except ParamValidationError as exc:
            raise InvokeError(f"StopRuntimeSession refused before sending: {exc}") from None
        except BotoCoreError as exc:
            raise TransientInvokeError(f"StopRuntimeSession failed: {exc}") from None


class HttpAgentInvoker:
    """The AgentCore HTTP contract on loopback: `POST {url}/invocations` with the session header."""

    def __init__(self, endpoints: dict[str, str], *, timeout: float = ACCEPT_TIMEOUT_SECONDS,
                 client: Any | None = None) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._client = client

    @given_or_built
    def client(self) -> Any:
        import httpx

        return httpx.Client(timeout=httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT_SECONDS))

    def _url(self, agent_type: str) -> str:
        try:
            return self.endpoints[agent_type].rstrip("/")
        except KeyError:
            raise InvokeError(f"no local agent endpoint is configured for agent {agent_type!r}") from None

    def invoke(self, request: AgentRequest) -> None:
        import httpx

        try:
            response = self.client.post(
                f"{self._url(request.agent_type)}/invocations",
                content=request.model_dump_json(),
                headers={"Content-Type": "application/json", SESSION_HEADER: request.session_id},
            )
        except httpx.ReadTimeout as exc:  # sent, not answered: maybe accepted (see InvokeUnanswered)
            raise InvokeUnanswered(f"agent endpoint sent the request but answered nothing in {self.timeout} s: "
                                   f"{exc}") from None
        except httpx.HTTPError as exc:
            raise TransientInvokeError(f"agent endpoint unreachable: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientInvokeError(f"agent answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise InvokeError(f"agent answered {response.status_code}: {response.text[:200]}")

    def stop(self, agent_type: str, session_id: str, endpoint: str | None = None) -> None:
        # The local agent app has no stop endpoint (nor has BedrockAgentCoreApp); a cancelled run's completion event
        # is ignored by the completion step's conditional update.
        return None


_ACCEPT_CONFIG: Any = None


def _accept_config() -> Any:
    """One botocore Config (the client cache keys on its identity): a bounded accept, and no retry of a read
    timeout (botocore retries those; a hung runtime would then hold the batch for several timeouts)."""
    global _ACCEPT_CONFIG
    if _ACCEPT_CONFIG is None:
        from botocore.config import Config

        _ACCEPT_CONFIG = Config(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=AGENTCORE_ACCEPT_TIMEOUT_SECONDS,
                                retries={"max_attempts": 1, "mode": "standard"})
    return _ACCEPT_CONFIG


def invoker_for(runtimes: dict[str, str], qualifier: str = "DEFAULT", *, clients: Any | None = None) -> AgentInvoker:
    """ARNs -> AgentCore; http(s) URLs -> the loopback invoker. One deployment uses one kind."""
    if runtimes and all(str(v).startswith(("http://", "https://")) for v in runtimes.values()):
        return HttpAgentInvoker(runtimes)
    return AgentCoreInvoker(runtimes, qualifier, clients=clients)

