"""The task queue consumer: SQS FIFO batches with partial batch failure responses. A message that can't start
yet (the project's concurrency cap) is reported failed and comes back after the visibility timeout; the rest of
its message group waits behind it, the other groups go on."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="aidlc-orchestrator")


def record_handler(record: SQSRecord, services: Any = None) -> dict[str, Any]:
    from runtime.models import QueueMessage
    from runtime.pipeline.orchestrator import ConcurrencyLimited
    from runtime.pipeline.services import get_services

    message = QueueMessage.model_validate_json(record.body)
    logger.set_correlation_id(message.invocation_id)
    try:
        outcome = (services or get_services()).orchestrator.process(message)
    except ConcurrencyLimited as exc:
        logger.info("concurrency cap reached; the task waits in the queue", extra={"reason": str(exc)})
        raise
    logger.info("task handled", extra={"outcome": outcome.status, "detail": outcome.detail})
    return {"invocation_id": outcome.invocation_id, "status": outcome.status}


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # A batch in which every task waits on the cap is normal here: report the items, don't raise.
    processor.raise_on_entire_batch_failure = False
    return process_partial_response(event=event, record_handler=partial(record_handler, services=services),
                                    processor=processor, context=context)
