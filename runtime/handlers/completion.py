"""The completion queue consumer: record, account, write back, chain (`runtime.pipeline.completion`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="aidlc-completion")


def record_handler(record: SQSRecord) -> dict[str, Any]:
    from runtime.models import CompletionEvent
    from runtime.pipeline.services import get_services

    event = CompletionEvent.model_validate_json(record.body)
    logger.set_correlation_id(event.invocation_id)
    outcome = get_services().completion.process(event)
    logger.info("completion handled", extra={"recorded": outcome.recorded, "delivered": outcome.delivered,
                                             "chained": outcome.chained})
    return {"invocation_id": outcome.invocation_id, "recorded": outcome.recorded}


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
