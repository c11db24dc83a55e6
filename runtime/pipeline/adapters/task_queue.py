"""The task queue: SQS FIFO, one message group per Notion page (a story's runs start in order), and a
deduplication id per run so a retried send within SQS's 5-minute window is dropped by SQS itself."""

from __future__ import annotations

from typing import Any

from runtime.models import QueueMessage
from runtime.pipeline.adapters import aws


class SqsTaskQueue(aws.QueueAdapter):
    def publish(self, message: QueueMessage) -> str:
        """Send; returns the SQS message id. The dedup id is the invocation id and when the message was made: a resend
        of one message is dropped, while a person's re-trigger that names a finished run (Notion's minute-rounded
        edit time) gets through to the orchestrator, which tells the two apart (`orchestrator.is_retrigger`)."""
        kwargs: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": message.model_dump_json()}
        if self.queue_url.endswith(".fifo"):
            kwargs["MessageGroupId"] = message.notion_page_id
            kwargs["MessageDeduplicationId"] = f"{message.invocation_id}-{int(message.enqueued_at.timestamp() * 1000)}"
        return self.client.send_message(**kwargs)["MessageId"]
