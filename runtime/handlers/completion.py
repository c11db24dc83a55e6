"""The completion queue consumer: record, account, write back, chain (`runtime.pipeline.completion`)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service="aidlc-completion")
METRICS_NAMESPACE = "aidlc"  # the namespace components/monitoring.py's alarms and dashboard read


def record_handler(record: SQSRecord, services: Any = None) -> dict[str, Any]:
    from pydantic import ValidationError

    from runtime.models import CompletionEvent, Heartbeat
    from runtime.observe.trace import in_stage
    from runtime.pipeline.services import get_services
    from runtime.pipeline.sweepers import record_heartbeat

    services = services or get_services()
    try:
        event = CompletionEvent.model_validate_json(record.body)
    except ValidationError as not_an_event:
        try:  # the same queue carries the running agents' heartbeats (runtime.agent.app)
            beat = Heartbeat.model_validate_json(record.body)
        except ValidationError:
            raise not_an_event from None  # neither: the completion event's own errors say what is wrong
        with in_stage("heartbeat", beat.invocation_id):  # counted apart: a run beats as long as it runs
            return {"invocation_id": beat.invocation_id,
                    "heartbeat": record_heartbeat(services.invocations, beat, services.writeback)}
    logger.set_correlation_id(event.invocation_id)
    outcome = services.completion.process(event)
    logger.info("completion handled", extra={"recorded": outcome.recorded, "delivered": outcome.delivered,
                                             "chained": outcome.chained})
    if outcome.record is not None:
        publish_cost_metrics(services, outcome.record)
    return {"invocation_id": outcome.invocation_id, "recorded": outcome.recorded}


def publish_cost_metrics(services: Any, record: Any) -> None:
    """The cost metrics the budget alarms and the cost dashboard read (components/monitoring.py), as CloudWatch
    embedded-metric-format log lines: no API call on the completion path, and no lost increment (the figure
    published is the month-to-date the ledger holds, not a running sum kept here). `record`: the invocation as just
    recorded (`CompletionOutcome.record`), so only the month-to-date is read."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    # POWERTOOLS_METRICS_DISABLED (the local stack), which single_metric ignores; the function's own environment
    # (its settings) first, then the process's.
    if services.settings.metrics_disabled or is_metrics_disabled():
        return
    month_to_date = services.projects.budget(record.project_id).month_to_date
    for name, value, dimensions in (
        ("InvocationCostUSD", record.cost_usd, {"ProjectId": record.project_id, "AgentType": record.agent_type}),
        ("MonthToDateCostUSD", month_to_date, {"ProjectId": record.project_id}),
    ):
        with single_metric(name=name, unit=MetricUnit.Count, value=float(value), namespace=METRICS_NAMESPACE) as m:
            for key, dimension in dimensions.items():
                m.add_dimension(name=key, value=dimension)


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=partial(record_handler, services=services),
                                    processor=processor, context=context)
