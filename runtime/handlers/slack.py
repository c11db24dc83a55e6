"""`POST /slack/events`, `/slack/commands`, `/slack/interactivity` (API Gateway HTTP API, payload 2.0). Kept
light: no strands, mcp or agentcore imports; Slack wants the answer within 3 s."""

from __future__ import annotations

import binascii
from typing import Any

from aws_lambda_powertools import Logger

from runtime.errors import ErrorCode
from runtime.handlers._common import error_reply, json_reply

logger = Logger(service="aidlc-slack")

KIND_BY_PATH = {"/slack/events": "events", "/slack/commands": "commands", "/slack/interactivity": "interactivity"}


@logger.inject_lambda_context(log_event=False, clear_state=True)  # never log the (signed) body
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    from runtime.pipeline.services import get_services
    from runtime.pipeline.webhook import decode_body

    path = event.get("rawPath") or (event.get("requestContext") or {}).get("http", {}).get("path", "")
    kind = KIND_BY_PATH.get(path)
    if kind is None:
        return error_reply(404, ErrorCode.NOT_FOUND, f"no Slack endpoint at {path[:100]!r}")
    try:
        body = decode_body(event.get("body"), bool(event.get("isBase64Encoded")))
    except (binascii.Error, ValueError):
        return error_reply(400, ErrorCode.INVALID_REQUEST, "body is not valid base64")
    try:
        service = (services or get_services()).slack
        service.register_lambda_context(context)
        reply = service.handle(kind, body, event.get("headers") or {})
    except Exception:
        # Slack shows a failed request to the person; a 500 would make Slack retry an event, which is what we want
        # for an outage (the retry is deduplicated by event id).
        logger.exception("Slack request failed")
        return error_reply(500, ErrorCode.AGENT_ERROR, "internal error; Slack may retry the request")
    if "invocation_id" in reply.body:
        logger.set_correlation_id(reply.body["invocation_id"])
    logger.info("Slack answered", extra={"kind": kind, "status_code": reply.status, "outcome": reply.body.get("status")})
    return json_reply(reply.status, reply.body)
