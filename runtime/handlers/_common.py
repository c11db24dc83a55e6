"""What every HTTP handler shares: the JSON reply and the error shape."""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import ErrorCode, ErrorResponse


def json_reply(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body, default=str)}


def error_reply(status: int, code: ErrorCode, message: str, invocation_id: str | None = None) -> dict[str, Any]:
    return json_reply(status, ErrorResponse.of(code, message, invocation_id).model_dump(mode="json"))
