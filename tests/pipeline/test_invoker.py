"""The real invokers at their boundaries: boto3's bedrock-agentcore client under botocore's Stubber, and the
AgentCore HTTP contract against a tiny loopback ASGI app."""

from __future__ import annotations

import io
import json

import boto3
import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from runtime.models import AgentProjectSettings, AgentRequest, PageSnapshot, new_ulid
from runtime.pipeline.adapters.invoker import (
    SESSION_HEADER,
    AgentCoreInvoker,
    HttpAgentInvoker,
    InvokeError,
    TransientInvokeError,
    invoker_for,
)

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/aidlc_mock-abc123"


def request(agent: str = "mock") -> AgentRequest:
    invocation_id = new_ulid()
    return AgentRequest(invocation_id=invocation_id, session_id=f"aidlc-session-{invocation_id}", agent_type=agent,
                        project_id="acme", notion_page_id="page", story=PageSnapshot(title="A story"),
                        project=AgentProjectSettings(project_id="acme"))


@pytest.fixture
def stubbed():
    client = boto3.client("bedrock-agentcore", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield AgentCoreInvoker({"mock": ARN}, qualifier="live", client=client), stubber


def accepted(session_id: str) -> dict:
    """InvokeAgentRuntime's answer as the agent app gives it ("accepted"), shaped by the service model."""
    body = json.dumps({"status": "accepted"}).encode()
    return {"statusCode": 200, "runtimeSessionId": session_id, "contentType": "application/json",
            "response": StreamingBody(io.BytesIO(body), len(body))}


class Payload:
    """Matches an InvokeAgentRuntime payload that parses back, as the agent app parses it, into `expected`."""

    def __init__(self, expected: AgentRequest) -> None:
        self.expected = expected

    def __eq__(self, payload: object) -> bool:
        return AgentRequest.model_validate_json(payload) == self.expected  # type: ignore[arg-type]


def test_agentcore_invoke_sends_the_request_with_session_and_qualifier(stubbed):
    invoker, stubber = stubbed
    req = request()
    # Stubber checks the params against bedrock-agentcore's service model (required members, lengths) as well.
    stubber.add_response(
        "invoke_agent_runtime", accepted(req.session_id),
        {"agentRuntimeArn": ARN, "qualifier": "live", "runtimeSessionId": req.session_id,
         "contentType": "application/json", "accept": "application/json", "payload": Payload(req)},
    )
    invoker.invoke(req)
    stubber.assert_no_pending_responses()


def test_a_request_the_service_model_refuses_is_permanent_and_never_sent(stubbed):
    invoker, stubber = stubbed
    short = request().model_copy(update={"session_id": "too-short-for-agentcore"})  # the model wants >= 33
    stubber.add_response("invoke_agent_runtime", accepted(short.session_id))
    with pytest.raises(InvokeError, match="runtimeSessionId") as raised:
        invoker.invoke(short)
    assert not isinstance(raised.value, TransientInvokeError)  # retrying the same request cannot help
    with pytest.raises(AssertionError):  # botocore refused it before the (stubbed) send
        stubber.assert_no_pending_responses()


def test_stopping_a_session_the_service_model_refuses_is_an_invoke_error(stubbed):
    invoker, stubber = stubbed
    stubber.add_response("stop_runtime_session", {"runtimeSessionId": "s" * 40, "statusCode": 200})
    with pytest.raises(InvokeError, match="runtimeSessionId"):
        invoker.stop("mock", "short")


def test_the_orchestrator_sends_the_agent_everything_it_needs(aws_names):
    """The real orchestrator, through the real AgentCore invoker, to a stubbed bedrock-agentcore client: the
    payload is the AgentRequest of the queued task, the session is the record's."""
    from runtime.pipeline.services import set_services
    from tests.pipeline.conftest import build_pipeline, make_project
    from tests.pipeline.test_orchestrator import task

    client = boto3.client("bedrock-agentcore", region_name="us-east-1")
    pipeline = build_pipeline(aws_names, make_project(github_repo="acme/app"),
                              invoker=AgentCoreInvoker({"mock": ARN}, client=client))
    sent: list[dict] = []
    client.meta.events.register("provide-client-params.bedrock-agentcore.InvokeAgentRuntime",
                                lambda params, **_: sent.append(dict(params)))
    set_services(pipeline.services)
    try:
        with Stubber(client) as stubber:
            stubber.add_response("invoke_agent_runtime", accepted("x" * 40))
            message = task(pipeline)
            pipeline.drain()
            stubber.assert_no_pending_responses()
    finally:
        set_services(None)

    record = pipeline.record(message.invocation_id)
    [params] = sent
    assert (params["agentRuntimeArn"], params["qualifier"], params["runtimeSessionId"]) == (
        ARN, "DEFAULT", record.session_id)
    sent_request = AgentRequest.model_validate_json(params["payload"])
    assert sent_request.invocation_id == message.invocation_id == record.invocation_id
    assert (sent_request.agent_type, sent_request.notion_page_id, sent_request.project_id) == (
        "mock", message.notion_page_id, "acme")
    assert sent_request.story == message.page_snapshot
    assert sent_request.session_id == record.session_id
    assert sent_request.project.github_repo == "acme/app"
    assert sent_request.budget.cost_limit_usd == record.reserved_usd
    assert sent_request.parent is None


def test_the_local_invoker_uses_the_services_session_header():
    # The loopback contract must name the header exactly as InvokeAgentRuntime serialises runtimeSessionId.
    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    for operation in ("InvokeAgentRuntime", "StopRuntimeSession"):
        member = model.operation_model(operation).input_shape.members["runtimeSessionId"]
        assert member.serialization == {"location": "header", "name": SESSION_HEADER}


def test_the_gateway_is_signed_for_the_service_that_serves_it():
    # The agent signs its MCP calls to the AgentCore Gateway (IAM authorizer) with the service's signing name.
    from runtime.agent.tools import SigV4Auth

    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    assert SigV4Auth("us-east-1").service == model.metadata["signingName"]


@pytest.mark.parametrize("code, status, transient", [
    ("ThrottlingException", 429, True),
    ("InternalServerException", 500, True),
    ("ServiceQuotaExceededException", 402, True),
    ("ValidationException", 400, False),
    ("ResourceNotFoundException", 404, False),
    ("AccessDeniedException", 403, False),
])
def test_agentcore_errors_are_sorted_into_transient_and_permanent(stubbed, code, status, transient):
    invoker, stubber = stubbed
    stubber.add_client_error("invoke_agent_runtime", service_error_code=code, service_message="nope",
                             http_status_code=status)
    with pytest.raises(InvokeError) as raised:
        invoker.invoke(request())
    assert isinstance(raised.value, TransientInvokeError) is transient
    assert code in str(raised.value)


def test_agentcore_unknown_agent_is_permanent_without_a_call(stubbed):
    invoker, stubber = stubbed
    with pytest.raises(InvokeError) as raised:
        invoker.invoke(request("code"))
    assert not isinstance(raised.value, TransientInvokeError) and "'code'" in str(raised.value)


def test_agentcore_stop_session(stubbed):
    invoker, stubber = stubbed
    stubber.add_response("stop_runtime_session", {"runtimeSessionId": "s" * 40, "statusCode": 200},
                         {"agentRuntimeArn": ARN, "qualifier": "live", "runtimeSessionId": "s" * 40})
    invoker.stop("mock", "s" * 40)
    stubber.assert_no_pending_responses()


def test_http_invoker_speaks_the_agentcore_contract_on_loopback():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from runtime.local.server import serve

    seen: list[tuple[str, dict]] = []
    answers = [503, 200]

    async def invocations(req):
        seen.append((req.headers.get(SESSION_HEADER), json.loads(await req.body())))
        status = answers.pop(0)
        return JSONResponse({"status": "accepted"} if status == 200 else {"error": "busy"}, status_code=status)

    with serve(Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])) as server:
        invoker = invoker_for({"mock": server.base_url})
        assert isinstance(invoker, HttpAgentInvoker)
        req = request()
        with pytest.raises(TransientInvokeError):
            invoker.invoke(req)
        invoker.invoke(req)
    assert [s for s, _ in seen] == [req.session_id] * 2
    assert seen[1][1]["invocation_id"] == req.invocation_id and seen[1][1]["story"]["title"] == "A story"
    with pytest.raises(TransientInvokeError):  # the server is gone: unreachable is worth a retry
        HttpAgentInvoker({"mock": server.base_url}, timeout=2).invoke(req)


def test_invoker_for_picks_agentcore_for_arns():
    assert isinstance(invoker_for({"mock": ARN}), AgentCoreInvoker)
