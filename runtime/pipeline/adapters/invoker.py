"""Starting and stopping an agent run: one interface, AgentCore Runtime in AWS, a loopback HTTP app locally.

Both only start the run: the agent answers at once ("accepted") and reports through the completion queue.
Errors are sorted into `TransientInvokeError` (throttling, 5xx, connection trouble: worth retrying) and
`InvokeError` (bad request, unknown runtime: retrying won't help).
"""

from __future__ import annotations

from typing import Any

from runtime.models import AgentRequest
from runtime.pipeline.ports import AgentInvoker, InvokeError, TransientInvokeError
from runtime.resources import Header
from runtime.pipeline.adapters import aws

SESSION_HEADER = Header.AGENTCORE_SESSION


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

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._clients.client("bedrock-agentcore") if self._clients else aws.client("bedrock-agentcore")
        return self._client

    def _arn(self, agent_type: str) -> str:
        try:
            return self.runtime_arns[agent_type]
        except KeyError:
            raise InvokeError(f"no AgentCore runtime is configured for agent {agent_type!r}") from None

    def invoke(self, request: AgentRequest) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            response = self.client.invoke_agent_runtime(
                agentRuntimeArn=self._arn(request.agent_type),
                qualifier=self.qualifier,
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

    def stop(self, agent_type: str, session_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            self.client.stop_runtime_session(
                agentRuntimeArn=self._arn(agent_type), qualifier=self.qualifier, runtimeSessionId=session_id
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

    def __init__(self, endpoints: dict[str, str], *, timeout: float = 30.0, client: Any | None = None) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout)
        return self._client

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
        except httpx.HTTPError as exc:
            raise TransientInvokeError(f"agent endpoint unreachable: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientInvokeError(f"agent answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise InvokeError(f"agent answered {response.status_code}: {response.text[:200]}")

    def stop(self, agent_type: str, session_id: str) -> None:
        # The local agent app has no stop endpoint (nor has BedrockAgentCoreApp); a cancelled run's completion event
        # is ignored by the completion step's conditional update.
        return None


def invoker_for(runtimes: dict[str, str], qualifier: str = "DEFAULT", *, clients: Any | None = None) -> AgentInvoker:
    """ARNs -> AgentCore; http(s) URLs -> the loopback invoker. One deployment uses one kind."""
    if runtimes and all(str(v).startswith(("http://", "https://")) for v in runtimes.values()):
        return HttpAgentInvoker(runtimes)
    return AgentCoreInvoker(runtimes, qualifier, clients=clients)

