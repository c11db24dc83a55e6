"""The real invokers at their boundaries: boto3's bedrock-agentcore client under botocore's Stubber, and the
AgentCore HTTP contract against a tiny loopback ASGI app."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from runtime.models import AgentProjectSettings, AgentRequest, PageSnapshot, new_ulid
from runtime.pipeline.invoker import (
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


def test_agentcore_invoke_sends_the_request_with_session_and_qualifier(stubbed):
    invoker, stubber = stubbed
    req = request()
    body = json.dumps({"status": "accepted"}).encode()
    stubber.add_response(
        "invoke_agent_runtime",
        {"statusCode": 200, "runtimeSessionId": req.session_id, "contentType": "application/json",
         "response": StreamingBody(io.BytesIO(body), len(body))},
        {"agentRuntimeArn": ARN, "qualifier": "live", "runtimeSessionId": req.session_id,
         "contentType": "application/json", "accept": "application/json", "payload": ANY},
    )
    invoker.invoke(req)
    stubber.assert_no_pending_responses()


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
