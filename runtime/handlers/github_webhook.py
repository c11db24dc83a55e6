"""`POST /webhook/github` (API Gateway HTTP API, payload 2.0): review comments on the agents' pull requests.
Kept light like the Notion webhook: no strands, mcp or agentcore imports."""

from __future__ import annotations

import binascii
from typing import Any

from aws_lambda_powertools import Logger

from runtime.errors import ErrorCode
from runtime.handlers._common import error_reply, json_reply

logger = Logger(service="aidlc-github-webhook")


@logger.inject_lambda_context(log_event=False, clear_state=True)  # never log the (signed) body
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    from runtime.pipeline.services import get_services
    from runtime.pipeline.webhook import decode_body

    service = (services or get_services()).github_webhook
    service.register_lambda_context(context)
    try:
        body = decode_body(event.get("body"), bool(event.get("isBase64Encoded")))
    except (binascii.Error, ValueError):
        return error_reply(400, ErrorCode.INVALID_REQUEST, "body is not valid base64")
    try:
        reply = service.handle(body, event.get("headers") or {})
    except Exception:
        logger.exception("GitHub webhook failed; the delivery can be redelivered")
        return error_reply(500, ErrorCode.AGENT_ERROR, "internal error; the delivery can be redelivered")
    logger.info("GitHub webhook answered", extra={"status_code": reply.status, "outcome": reply.body.get("status")})
    return json_reply(reply.status, reply.body)
