"""Waiting is not failing: a task that can't start yet (the project's concurrency cap, or budget held by runs in
flight) is put back on the task queue for later, with a growing delay, and can never reach the dead-letter queue
for waiting.

Why not a bare batch-item failure: SQS counts every receive towards the queue's `maxReceiveCount`
(`runtime/resources.py`, the tasks queue: 3), so a capped task came back with no backoff and was dead-lettered after
three receives, while the runs it waits for last hours.

What we do instead, for each waiting task:
- while its receive count is below the redrive limit minus one, `ChangeMessageVisibility` hides it for the next
  delay (the batch item is still reported failed, so it is not deleted). The message keeps its place: a FIFO
  queue's later messages for the same story stay behind it.
- when one more receive would bring it to the limit, a fresh copy is sent (its receive count starts at 0; the
  number of deferrals so far travels in a message attribute so the delay keeps growing) and the original is
  reported done, so it is deleted. FIFO: the copy has its own deduplication id (the invocation id plus the
  deferral number), since SQS would drop a copy with the original's id within five minutes.

The redrive policy stays as declared: a task that fails for real (a crash, a bad message) still ends in the DLQ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runtime import resources
from runtime.pipeline.adapters import aws

log = logging.getLogger(__name__)

DEFERRALS_ATTRIBUTE = "aidlc-deferrals"
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's ceiling for a visibility timeout
MAX_DELAY_SECONDS = 900  # SQS's ceiling for DelaySeconds (standard queues only)


def deferral_delay(deferrals: int, first_seconds: float, max_seconds: float) -> int:
    """Seconds to wait before the `deferrals`-th retry (1-based): doubling from `first_seconds`, capped."""
    grown = first_seconds * (2 ** max(0, min(deferrals - 1, 30)))
    return int(max(0, min(grown, max_seconds, MAX_VISIBILITY_SECONDS)))


@dataclass(frozen=True)
class WaitingMessage:
    """What the deferral needs from an SQS record (as a Lambda event source mapping delivers it)."""

    receipt_handle: str
    body: str
    receive_count: int
    deferrals: int
    group_id: str | None
    dedup_id: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "WaitingMessage":
        attributes = record.get("attributes") or {}
        message_attributes = record.get("messageAttributes") or {}
        deferrals = message_attributes.get(DEFERRALS_ATTRIBUTE) or {}
        raw = deferrals.get("stringValue") or deferrals.get("StringValue") or "0"
        return cls(
            receipt_handle=record["receiptHandle"],
            body=record["body"],
            receive_count=int(attributes.get("ApproximateReceiveCount") or 1),
            deferrals=int(raw) if str(raw).isdigit() else 0,
            group_id=attributes.get("MessageGroupId"),
            dedup_id=attributes.get("MessageDeduplicationId"),
        )


class SqsDeferral(aws.QueueAdapter):
    """Defers waiting tasks on the task queue (see the module docstring for the receive-count rule)."""

    def __init__(self, queue_url: str, client: Any | None = None, *, first_seconds: float = 10.0,
                 max_seconds: float = 900.0, max_receive_count: int = resources.TASKS.max_receive_count) -> None:
        super().__init__(queue_url, client)
        self.first_seconds = first_seconds
        self.max_seconds = max_seconds
        self.max_receive_count = max_receive_count

    def defer(self, message: WaitingMessage, *, invocation_id: str) -> bool:
        """Put the task back for later. True: it stays (report the item failed); False: a copy was sent (report it
        done, so the original is deleted)."""
        deferrals = message.deferrals + 1
        delay = deferral_delay(deferrals, self.first_seconds, self.max_seconds)
        if message.receive_count < self.max_receive_count - 1:
            self.client.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle,
                                                  VisibilityTimeout=delay)
            log.info("task waits %s s (deferral %s)", delay, deferrals, extra={"invocation_id": invocation_id})
            return True
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": message.body,
            "MessageAttributes": {DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)}},
        }
        if self.queue_url.endswith(".fifo"):
            # FIFO queues take no per-message delay: the copy is visible at once and, received again while the
            # wait goes on, is hidden with the next (longer) visibility timeout.
            kwargs["MessageGroupId"] = message.group_id or invocation_id
            kwargs["MessageDeduplicationId"] = f"{invocation_id}-wait-{deferrals}"
        else:
            kwargs["DelaySeconds"] = min(delay, MAX_DELAY_SECONDS)
        self.client.send_message(**kwargs)
        log.info("task re-queued after %s receives (deferral %s) so waiting never dead-letters it",
                 message.receive_count, deferrals, extra={"invocation_id": invocation_id})
        return False
