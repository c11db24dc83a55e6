"""A run as the completion tests start it, and the prototype its agent reports."""

from __future__ import annotations

from runtime.models import OutputArtifact, PageSnapshot, PrototypeMetadata, QueueMessage, new_ulid


def queued_run(p, page_id: str, agent: str = "mock", snapshot: PageSnapshot | None = None) -> str:
    """The run's task on the task queue, as the webhook leaves it; returns its invocation id."""
    message = QueueMessage(
        invocation_id=new_ulid(), workspace_id="ws", notion_page_id=page_id, agent_type=agent,
        trigger_value="Generate Prototype", project_id=p.project.project_id,
        page_snapshot=snapshot or PageSnapshot(page_id=page_id, title=f"Story {page_id}"),
    )
    p.services.queue.publish(message)
    return message.invocation_id


def prototype(invocation_id: str, url: str | None = None) -> OutputArtifact:
    """The prototype artifact of a completion event: at its CloudFront address unless `url` says otherwise."""
    url = url or f"https://prototypes.example/{invocation_id}/index.html"
    return OutputArtifact(type="prototype", url=url, title="Prototype",
                          metadata=PrototypeMetadata(s3_key=f"{invocation_id}/index.html", cloudfront_url=url,
                                                     expiry_days=7))
