"""Where a run's one completion event goes: the completion queue (SQS) in AWS and locally, a list in tests."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from runtime.lazy import given_or_built
from runtime.models import CompletionEvent, Heartbeat
from runtime.pipeline.adapters.aws import QueueAdapter

log = logging.getLogger("aidlc.agent")

SEND_ATTEMPTS = 6


class CompletionSink(Protocol):
    def send(self, event: CompletionEvent) -> None: ...


class MemoryCompletionSink:
    def __init__(self) -> None:
        self.events: list[CompletionEvent] = []
        self.heartbeats: list[Heartbeat] = []
        self._lock = threading.Lock()

    def send(self, event: CompletionEvent) -> None:
        with self._lock:
            self.events.append(event)

    def beat(self, heartbeat: Heartbeat) -> None:
        with self._lock:
            self.heartbeats.append(heartbeat)


def _is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or error.get("Code") in {
            "Throttling", "ThrottlingException", "RequestThrottled", "ServiceUnavailable", "InternalError",
            "AWS.SimpleQueueService.InternalError", "KmsThrottled",
        }
    return False


class SqsCompletionSink(QueueAdapter):
    """Sends the event as JSON to the completion queue.

    A lost completion event leaves an invocation `running` until the timeout sweeper fails it, hours later, so the
    send is retried over ~30 s. botocore's own retries are turned off on this client (one attempt per call) so the
    tenacity policy below is the only one: stacking both would multiply the attempts.
    """

    @given_or_built
    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("sqs", config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    @retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(SEND_ATTEMPTS),
        wait=wait_exponential_jitter(initial=0.5, max=10),
        reraise=True,
    )
    def send(self, event: CompletionEvent) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=event.model_dump_json(),
            MessageAttributes={
                "invocation_id": {"DataType": "String", "StringValue": event.invocation_id},
                "status": {"DataType": "String", "StringValue": event.status},
            },
        )
        log.info("completion event sent", extra={"invocation_id": event.invocation_id, "status": event.status})

    def beat(self, heartbeat: Heartbeat) -> None:
        """One attempt, no retry: a lost heartbeat is replaced by the next one."""
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=heartbeat.model_dump_json(),
                                 MessageAttributes={"kind": {"DataType": "String", "StringValue": "heartbeat"}})
