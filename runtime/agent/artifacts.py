"""Artifacts are gathered from the tools the agent called, never parsed from what the model wrote.

`ArtifactCollector` remembers each successful tool call (name, arguments, result); `artifacts_from_calls` maps them
to `OutputArtifact`s, keeping only the types the plugin declares as its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runtime.models import (
    AgentRequest,
    ArtifactType,
    InsightReportMetadata,
    NotionDatabaseMetadata,
    NotionPageMetadata,
    OutputArtifact,
    PrototypeMetadata,
    PullRequestMetadata,
)
from runtime.plugins import AgentSpec


def bare_tool_name(name: str) -> str:
    """AgentCore Gateway names tools `target___tool`; the registry knows them as `tool`."""
    return name.rsplit("___", 1)[-1]


@dataclass(frozen=True)
class ToolCallRecord:
    tool: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class ArtifactCollector:
    calls: list[ToolCallRecord] = field(default_factory=list)

    def add(self, tool: str, args: dict[str, Any], result: dict[str, Any]) -> None:
        self.calls.append(ToolCallRecord(bare_tool_name(tool), dict(args or {}), result))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def artifacts_from_calls(
    calls: list[ToolCallRecord], spec: AgentSpec, request: AgentRequest
) -> list[OutputArtifact]:
    outputs = set(spec.outputs)
    title = request.story.title
    artifacts: list[OutputArtifact] = []
    committed_files = 0
    feedback_count = 0
    feedback_sources: list[str] = []
    for call in calls:
        result = call.result
        if call.tool == "github_commit_files":
            committed_files += int(result.get("files_changed") or len(call.args.get("files") or {}))
        elif call.tool == "feedback_statistics":
            feedback_count = int(result.get("count") or 0)
            if call.args.get("data_source_id"):
                feedback_sources.append(call.args["data_source_id"])
        elif call.tool == "prototype_upload" and ArtifactType.PROTOTYPE in outputs:
            variant = result.get("variant") or call.args.get("variant")
            artifacts.append(
                OutputArtifact(
                    type=ArtifactType.PROTOTYPE,
                    url=result["url"],
                    title=f"Prototype{f' variant {variant}' if variant else ''}: {title}",
                    metadata=PrototypeMetadata(
                        s3_key=result.get("s3_key") or f"{result.get('key_prefix', '')}index.html",
                        cloudfront_url=result["url"],
                        expiry_days=int(result.get("expiry_days") or request.project.prototype_expiry_days),
                        variant=variant,
                    ),
                    expires_at=_parse_time(result.get("expires_at")),
                )
            )
        elif call.tool == "github_create_pull_request" and ArtifactType.PULL_REQUEST in outputs:
            artifacts.append(
                OutputArtifact(
                    type=ArtifactType.PULL_REQUEST,
                    url=result["url"],
                    title=f"PR #{result['number']}: {call.args.get('title') or title}",
                    metadata=PullRequestMetadata(
                        repo=result.get("repo") or request.project.github_repo,
                        branch=result.get("branch") or call.args.get("branch", ""),
                        pr_number=int(result["number"]),
                        files_changed=int(result.get("files_changed") or committed_files),
                    ),
                )
            )
        elif call.tool == "notion_create_page":
            page_title = call.args.get("title") or title
            if ArtifactType.INSIGHT_REPORT in outputs:
                artifacts.append(
                    OutputArtifact(
                        type=ArtifactType.INSIGHT_REPORT,
                        url=result["url"],
                        title=page_title,
                        metadata=InsightReportMetadata(
                            page_id=result["page_id"],
                            feedback_count=feedback_count,
                            source_data_source_ids=feedback_sources,
                        ),
                    )
                )
            elif ArtifactType.NOTION_PAGE in outputs:
                artifacts.append(
                    OutputArtifact(
                        type=ArtifactType.NOTION_PAGE,
                        url=result["url"],
                        title=page_title,
                        metadata=NotionPageMetadata(
                            page_id=result["page_id"],
                            parent_page_id=result.get("parent_page_id") or call.args.get("parent_page_id"),
                            page_type=spec.name,
                        ),
                    )
                )
        elif call.tool == "notion_create_database" and ArtifactType.NOTION_DATABASE in outputs:
            artifacts.append(
                OutputArtifact(
                    type=ArtifactType.NOTION_DATABASE,
                    url=result["url"],
                    title=call.args.get("title") or title,
                    metadata=NotionDatabaseMetadata(
                        database_id=result["database_id"],
                        data_source_id=result.get("data_source_id"),
                        record_count=int(result.get("record_count") or 0),
                    ),
                )
            )
    return artifacts
