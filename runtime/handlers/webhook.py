"""`POST /webhook/notion` (API Gateway HTTP API, payload 2.0). Kept light: no strands, mcp or agentcore imports."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from runtime.handlers._common import answer_webhook

logger = Logger(service="aidlc-webhook")


@logger.inject_lambda_context(log_event=False, clear_state=True)  # never log the (signed) body
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    from runtime.pipeline.services import get_services

    return answer_webhook(event, context, (services or get_services()).webhook,
                          logger, retry="Notion will retry the delivery")
