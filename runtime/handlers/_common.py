"""What every HTTP handler shares: the JSON reply, the error shape, and the answer to a signed webhook delivery."""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import ErrorCode, ErrorResponse


def json_reply(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body, default=str)}


def error_reply(status: int, code: ErrorCode, message: str, invocation_id: str | None = None) -> dict[str, Any]:
    return json_reply(status, ErrorResponse.of(code, message, invocation_id).model_dump(mode="json"))


def answer_webhook(event: dict[str, Any], context: Any, service: Any, logger: Any, *, retry: str) -> dict[str, Any]:
    """A signed webhook delivery (payload 2.0) handed to its service: 400 for a body that is not base64, 500 (and
    the log) for our own failure, `retry` saying who delivers it again; the body is never logged (it is signed)."""
    import binascii

    from runtime.pipeline.webhook import decode_body

    service.register_lambda_context(context)
    try:
        body = decode_body(event.get("body"), bool(event.get("isBase64Encoded")))
    except (binascii.Error, ValueError):
        return error_reply(400, ErrorCode.INVALID_REQUEST, "body is not valid base64")
    try:
        reply = service.handle(body, event.get("headers") or {})
    except Exception:
        logger.exception(f"webhook failed; {retry}")
        return error_reply(500, ErrorCode.AGENT_ERROR, f"internal error; {retry}")
    if "invocation_id" in reply.body:
        logger.set_correlation_id(reply.body["invocation_id"])
    logger.info("webhook answered", extra={"status_code": reply.status, "outcome": reply.body.get("status")})
    return json_reply(reply.status, reply.body)
