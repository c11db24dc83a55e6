"""The thin Lambda handler: API Gateway HTTP API (payload 2.0) events to the ingress, and back."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

from runtime.handlers import slack as slack_handler
from runtime.local.lambda_shim import LocalLambdaContext, http_api_event
from runtime.pipeline.webhook import HttpReply


class RecordingIngress:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def register_lambda_context(self, context) -> None:
        pass

    def handle(self, kind, body, headers):
        self.calls.append((kind, body))
        return HttpReply(200, {"status": "ok", "kind": kind})


def _call(path: str, body: bytes, *, base64_body: bool = False):
    ingress = RecordingIngress()
    event = http_api_event("POST", path, headers={"content-type": "application/x-www-form-urlencoded"}, body=body)
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    result = slack_handler.handler(event, LocalLambdaContext(function_name="slack"),
                                   services=SimpleNamespace(slack=ingress))
    return result["statusCode"], json.loads(result["body"]), ingress.calls


def test_each_path_reaches_its_kind_with_the_raw_bytes():
    for path, kind in slack_handler.KIND_BY_PATH.items():
        status, body, calls = _call(path, b"a=1&b=%C3%A9", base64_body=kind == "commands")
        assert status == 200 and body["kind"] == kind and calls == [(kind, b"a=1&b=%C3%A9")]


def test_unknown_path_and_bad_base64_are_refused_before_the_ingress():
    status, body, calls = _call("/slack/other", b"x")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND" and calls == []
    ingress = RecordingIngress()
    event = http_api_event("POST", "/slack/events", headers={}, body=b"")
    event["body"], event["isBase64Encoded"] = "!!not base64!!", True
    result = slack_handler.handler(event, LocalLambdaContext(function_name="slack"),
                                   services=SimpleNamespace(slack=ingress))
    assert result["statusCode"] == 400 and ingress.calls == []
