"""Scheduled (EventBridge) handlers: reconcile missed stories, time out stuck runs, budget alerts.

Each takes Lambda's (event, context); `services`: this function's (the local stack, tests), else the environment's."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(service="aidlc-sweepers")


@logger.inject_lambda_context(log_event=False, clear_state=True)
def reconcile_handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    from runtime.pipeline.services import get_services

    result = (services or get_services()).sweepers.reconcile()
    logger.info("reconcile done", extra={"checked": result["checked"], "enqueued": len(result["enqueued"])})
    return result


@logger.inject_lambda_context(log_event=False, clear_state=True)
def timeouts_handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    from runtime.pipeline.services import get_services

    result = (services or get_services()).sweepers.timeouts()
    logger.info("timeouts done", extra={"timed_out": len(result["timed_out"])})
    return result


@logger.inject_lambda_context(log_event=False, clear_state=True)
def budget_alerts_handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    from runtime.pipeline.services import get_services

    result = (services or get_services()).sweepers.budget_alerts()
    logger.info("budget alerts done", extra={"sent": len(result["sent"])})
    return result
