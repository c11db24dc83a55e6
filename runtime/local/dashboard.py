"""The dashboard's view models: what `GET /dev/api/state` and the local views (PRs, Notion pages) show, read from the
running stack as a person would see it (the user's Notion token, the internal API)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# A running run silent this long is shown as stuck (the liveness sweeper fails it at its own, longer, threshold).
STUCK_AFTER_SECONDS = 60
STEPS_SHOWN = 200  # the newest tool calls of one run the dashboard lists
SLACK_THREADS_SHOWN = 8  # the newest threads of the Slack channel the dashboard shows (each a workflow's, mostly)


class DashboardViews:
    def __init__(self, stack: Any) -> None:
        self.stack = stack  # runtime.local.stack.LocalStack: its info, project, registry, api_get, user_notion

    def state(self) -> dict[str, Any]:
        from runtime.notion.adapter import plain_properties, page_title

        notion = self.stack.user_notion()
        registry = self.stack.registry
        data_source = notion.retrieve_data_source(self.stack.info.stories_data_source_id)
        status_prop = data_source.get("properties", {}).get(self.stack.project.trigger_property, {})
        options = [o["name"] for o in (status_prop.get("status") or status_prop.get("select") or {}).get("options", [])]
        # A plugin dropped in after the workspace was seeded has triggers Notion has no option for yet.
        triggers = sorted(registry.trigger_map(self.stack.project.trigger_map))
        statuses = options + [t for t in triggers if t not in options]
        pages = notion.query_data_source(self.stack.info.stories_data_source_id)
        stories = [
            {"page_id": p["id"], "title": page_title(p), "status": plain_properties(p).get(self.stack.project.trigger_property)}
            for p in pages
        ]
        titles = {s["page_id"]: s["title"] for s in stories}
        listing = self.stack.api_get(f"/project/{self.stack.project.project_id}/invocations?limit=50")
        invocations = listing.get("invocations", listing.get("items", [])) if isinstance(listing, dict) else listing
        cost = self.stack.api_get(f"/project/{self.stack.project.project_id}/cost-summary")
        for inv in invocations:
            inv["story_title"] = titles.get(inv.get("notion_page_id"), "")
            inv["story_url"] = f"{self.stack.info.api_base}/dev/notion/{inv.get('notion_page_id')}"
            for artifact in inv.get("output_artifacts") or []:
                artifact["local_url"] = self.local_artifact_url(artifact)
            inv["remediation"] = inv.get("remediation") or self._remediation(inv.get("error_code"))
            inv["condition"] = self.condition(inv, cost)
        return {
            "project_id": self.stack.project.project_id,
            "model": self.stack.options.model,
            "statuses": statuses,
            "trigger_statuses": triggers,
            "stories": stories,
            "invocations": invocations,
            "cost": cost,
            "plugins": registry.describe(),
            "slack": self.slack_channel(),
        }

    def slack_channel(self) -> dict[str, Any] | None:
        """The Slack channel as its person sees it (the emulator's Web API with the user's token): the newest
        threads, oldest first, each message with its author's name and its buttons' labels; a workflow's steps
        are its thread's replies. None when the stack has no Slack or it does not answer."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        from runtime.slack.notifier import web_client

        slack = getattr(self.stack, "slack", None)
        if slack is None or not getattr(self.stack, "slack_api_base", ""):
            return None
        client = web_client(slack.user_token, self.stack.slack_api_base, rate_limit_retries=0)
        try:
            top = client.conversations_history(channel=slack.channel_id, limit=SLACK_THREADS_SHOWN)["messages"]
            names = {u.id: u.real_name for u in slack.users.values()}
            threads = []
            for parent in reversed(top):
                replies = (client.conversations_replies(channel=slack.channel_id, ts=parent["ts"])["messages"][1:]
                           if parent.get("reply_count") else [])
                threads.append({**_slack_message(parent, names),
                                "replies": [_slack_message(m, names) for m in replies]})
        except (SlackApiError, SlackClientError, OSError):
            return None
        return {"channel": {"id": slack.channel_id, "name": slack.channels[slack.channel_id].name,
                            "url": getattr(self.stack.info, "slack_channel_url", "")}, "threads": threads}

    @staticmethod
    def _remediation(code: str | None) -> str:
        from runtime.errors import DEFAULT_REMEDIATION, ErrorCode

        try:
            return DEFAULT_REMEDIATION[ErrorCode(code)] if code else ""
        except (ValueError, KeyError):
            return ""

    def condition(self, inv: dict[str, Any], cost: dict[str, Any]) -> dict[str, str] | None:
        """Why a run that is not moving is not moving: {"state": waiting|stuck, "why": ...}; None when it moves or
        is done. A queued run waits for a slot or for budget held by runs in flight (the orchestrator defers it);
        a running run with no heartbeat for a minute is stuck (its agent died or hung)."""
        project = self.stack.project
        if inv.get("status") == "queued":
            running = int(cost.get("running") or 0)
            if running >= project.concurrency_limit:
                return {"state": "waiting", "why": f"waiting for a concurrency slot: {running} of "
                        f"{project.concurrency_limit} running"}
            reserved = float(cost.get("reserved_usd") or 0)
            if reserved and float(cost.get("remaining_usd") or 0) <= reserved:
                return {"state": "waiting", "why": f"waiting for budget: ${reserved:.2f} is reserved by runs in "
                        "flight"}
            return {"state": "waiting", "why": "queued: the orchestrator starts it on its next delivery"}
        if inv.get("status") != "running":
            return None
        from runtime.pipeline.common import parse_time
        from runtime.pipeline.sweepers import HEARTBEAT_AT

        stored = self.stack.functions["api"].services.invocations.get(inv["invocation_id"])
        last = (parse_time(stored.raw.get(HEARTBEAT_AT)) if stored else None) or parse_time(inv.get("started_at"))
        if last is None:
            return None
        silent = int((datetime.now(timezone.utc) - last).total_seconds())
        if silent >= STUCK_AFTER_SECONDS:
            return {"state": "stuck", "why": f"no heartbeat from the agent for {silent} s: it may have died or hung; "
                    "the liveness sweeper fails it at 120 s"}
        return None

    def steps(self, invocation_id: str) -> list[dict[str, Any]]:
        """One run's tool calls as they happen, from the audit trail (runtime.tools.audit): the agent's side and the
        tool gateway's, in order."""
        from runtime import resources
        from runtime.tools.audit import DynamoDbAuditSink

        audit = DynamoDbAuditSink(self.stack.aws.tables[resources.AUDIT.logical_name],
                                  client=self.stack.clients_for("local").client("dynamodb"))
        records = sorted(audit.records_for(invocation_id), key=lambda r: r.seq)[-STEPS_SHOWN:]
        return [{"at": r.at.isoformat(), "source": r.source, "tool": r.tool, "outcome": r.outcome,
                 "duration_ms": r.duration_ms, "detail": r.detail} for r in records]

    def local_artifact_url(self, artifact: dict[str, Any]) -> str:
        """Where a person opens an artifact locally: prototypes are served as is; PRs and Notion pages by views."""
        metadata = artifact.get("metadata") or {}
        if artifact.get("type") == "pull_request":
            return f"{self.stack.info.api_base}/dev/git/pr/{metadata.get('pr_number')}"
        if artifact.get("type") in ("notion_page", "insight_report"):
            return f"{self.stack.info.api_base}/dev/notion/{metadata.get('page_id')}"
        if artifact.get("type") == "notion_database":
            return artifact.get("url", "")
        return artifact.get("url", "")

    def pull_request(self, number: int) -> dict | None:
        from runtime.github import LocalGitBackend

        try:
            return LocalGitBackend(Path(self.stack.info.git_remote)).read_pull_request(number)
        except Exception:
            return None

    def notion_page(self, page_id: str) -> dict | None:
        from runtime.notion.adapter import page_title

        # Accept both a page id and the emulator's page URL form, "<Title-slug>-<32 hex digits>".
        import re
        import uuid

        match = re.search(r"([0-9a-fA-F]{32})$", page_id.replace("-", ""))
        if not match:
            return None
        page_id = str(uuid.UUID(match.group(1)))
        notion = self.stack.user_notion()
        try:
            page = notion.retrieve_page(page_id)
        except Exception:
            return self._database_view(notion, page_id)
        return {"title": page_title(page), "markdown": notion.read_markdown(page_id)}

    def _database_view(self, notion, database_id: str) -> dict | None:
        """A database (the feedback database) shown as its title and rows."""
        from runtime.notion.adapter import plain_properties

        try:
            database = notion.retrieve_database(database_id)
        except Exception:
            database = None
        if not database:
            return None
        title = "".join(t.get("plain_text", "") for t in database.get("title", [])) or "database"
        source_id = database["data_sources"][0]["id"]
        columns = list(notion.retrieve_data_source(source_id).get("properties", {}))
        rows = [plain_properties(p) for p in notion.query_data_source(source_id)]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
        return {"title": title, "markdown": f"{len(rows)} entries\n\n" + "\n".join(lines)}


def _slack_message(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    buttons = [element.get("text", {}).get("text", "") for block in message.get("blocks") or []
               if block.get("type") == "actions" for element in block.get("elements") or []]
    return {"ts": message["ts"], "user": names.get(message.get("user", ""), message.get("user", "")),
            "text": message.get("text", ""), "buttons": buttons, "edited": "edited" in message}
