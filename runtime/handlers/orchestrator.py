"""The task queue consumer: SQS FIFO batches with partial batch failure responses. A message that can't start
yet (the project's concurrency cap, budget held by runs in flight) is deferred with a growing delay
(`runtime.pipeline.deferral`: it never reaches the DLQ for waiting); the rest of its message group waits behind it,
the other groups go on."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="aidlc-orchestrator")


def record_handler(record: SQSRecord, services: Any = None) -> dict[str, Any]:
    from runtime.models import QueueMessage
    from runtime.pipeline.deferral import WaitingMessage
    from runtime.pipeline.orchestrator import TaskMustWait
    from runtime.pipeline.services import get_services

    message = QueueMessage.model_validate_json(record.body)
    logger.set_correlation_id(message.invocation_id)
    services = services or get_services()
    try:
        outcome = services.orchestrator.process(message)
    except TaskMustWait as exc:
        logger.info("the task waits", extra={"reason": str(exc)})
        if services.deferral.defer(WaitingMessage.from_record(record.raw_event), invocation_id=message.invocation_id):
            raise  # reported failed: SQS shows it again when its new visibility timeout ends
        return {"invocation_id": message.invocation_id, "status": "requeued"}
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
