"""What a Slack request asks for, decided by the registry: one request, exactly one route.

    /aidlc run <agent> <notion story url> [@people]   start that agent on the story
    /aidlc <command> <notion story url> [@people]     start the agent whose plugin declares `slack_commands`
    /aidlc status <workflow id> | cancel <workflow id> | resume <workflow id> | help
    /aidlc onboard <customer-id> <contact e-mail> <region[,region]> [service,service] [env,env]
    /aidlc provision <customer-id> [version]           the onboarding workflows (runtime/slack/workflows.py)
    anything else                                     NotUnderstood: "I did not understand; try /aidlc help"

The same words work in a message that mentions the bot (`@aidlc run mock <url>`). Classification is by the first
word only, so it is deterministic: no model guesses an intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

SLACK_COMMAND_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
HOST_COMMANDS = frozenset({"run", "status", "cancel", "resume", "onboard", "provision", "help"})
NOT_UNDERSTOOD = "I did not understand; try /aidlc help"

# Slack escapes people as <@U123> or <@U123|name>, links as <https://...> or <https://...|label>.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
_LINK = re.compile(r"^<(https?://[^|>]+)(?:\|[^>]*)?>$")
# A Notion page id: 32 hex digits (with or without dashes) at the end of the URL's path.
_NOTION_ID = re.compile(r"([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})(?:[?#].*)?$", re.I)
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")  # Slack links e-mail addresses


class AgentLookup(Protocol):
    agents: dict[str, Any]

    def agent_for_slack_command(self, command: str | None) -> Any | None: ...


@dataclass(frozen=True)
class RunAgent:
    agent_type: str
    page_id: str  # dashed UUID form
    story_url: str
    stakeholders: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowCommand:
    """A command about one workflow, named by its id; each kind below is its own class (equal only to its kind)."""

    workflow_id: str


class Status(WorkflowCommand):
    """`/aidlc status <id>`: where the workflow is."""


class Cancel(WorkflowCommand):
    """`/aidlc cancel <id>`: stop it at its next step."""


class Resume(WorkflowCommand):
    """`/aidlc resume <id>`: a failed workflow again, from its last good step."""


@dataclass(frozen=True)
class Help:
    text: str


@dataclass(frozen=True)
class NotUnderstood:
    reason: str
    text: str = field(default=NOT_UNDERSTOOD)


@dataclass(frozen=True)
class Onboard:
    """`/aidlc onboard`: the requirements' essentials from the command line (the rest: the models' defaults)."""

    customer_id: str
    contact_email: str
    regions: tuple[str, ...]
    services: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provision:
    customer_id: str
    version: str | None = None


Route = RunAgent | Status | Cancel | Resume | Onboard | Provision | Help | NotUnderstood


def notion_page_id(url: str) -> str | None:
    """The page id in a Notion URL (`https://www.notion.so/Title-<32 hex>`), dashed; None if there is none."""
    link = _LINK.match(url)
    url = link.group(1) if link else url
    if not re.match(r"https?://", url):
        return None
    found = _NOTION_ID.search(url)
    if not found:
        return None
    raw = found.group(1).replace("-", "").lower()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def help_text(registry: AgentLookup) -> str:
    lines = [
        "*aidlc* commands:",
        "• `/aidlc run <agent> <notion story url> [@people]` — start an agent on a story; people named are told",
        "• `/aidlc status <workflow id>` — where a workflow is",
        "• `/aidlc cancel <workflow id>` — stop it",
        "• `/aidlc resume <workflow id>` — a failed onboarding or provisioning again, from its last good step",
        "• `/aidlc onboard <customer-id> <contact e-mail> <region[,region]> [service,service] [env,env]` — set up a "
        "customer's AWS organisation and package, then provision it (the change set waits for your approval)",
        "• `/aidlc provision <customer-id> [version]` — deploy a customer's package version (default: the newest)",
    ]
    for spec in sorted(registry.agents.values(), key=lambda s: s.name):
        for command in spec.slack_commands:
            lines.append(f"• `/aidlc {command} <notion story url>` — {spec.description}")
    lines.append("Agents: " + ", ".join(f"`{name}`" for name in sorted(registry.agents)))
    return "\n".join(lines)


def route(text: str, registry: AgentLookup) -> Route:
    """The one route for a request's text (a slash command's text, or a message with the bot mention removed)."""
    stakeholders = tuple(dict.fromkeys(_MENTION.findall(text or "")))
    words = _MENTION.sub(" ", text or "").split()
    if not words:
        return Help(help_text(registry))
    verb, args = words[0].lower(), words[1:]
    if verb == "help":
        return Help(help_text(registry))
    if verb in ("status", "cancel", "resume"):
        if len(args) != 1 or not _ULID.fullmatch(args[0].upper()):
            return NotUnderstood(f"`/aidlc {verb}` takes one workflow id (26 characters, as posted in the thread)")
        workflow_id = args[0].upper()
        return {"status": Status, "cancel": Cancel, "resume": Resume}[verb](workflow_id)
    if verb == "onboard":
        if not 3 <= len(args) <= 5:
            return NotUnderstood("`/aidlc onboard` takes a customer id, a contact e-mail and regions "
                                 "(then optionally services and environments, comma-separated)")
        email = _MAILTO.sub(r"\1", args[1])
        split = [tuple(x for x in a.split(",") if x) for a in args[2:]]
        return Onboard(args[0].lower(), email, split[0], *(split[1:]))
    if verb == "provision":
        if not 1 <= len(args) <= 2:
            return NotUnderstood("`/aidlc provision` takes a customer id and optionally a version (v1, v2...)")
        return Provision(args[0].lower(), args[1].lower() if len(args) == 2 else None)
    if verb == "run":
        if len(args) != 2:
            return NotUnderstood("`/aidlc run` takes an agent and a Notion story URL")
        agent, url = args[0].lower(), args[1]
        if agent not in registry.agents:
            return NotUnderstood(f"no agent named `{agent}`; agents: {', '.join(sorted(registry.agents))}")
        return _run(agent, url, stakeholders)
    spec = registry.agent_for_slack_command(verb) if SLACK_COMMAND_PATTERN.fullmatch(verb) else None
    if spec is None:
        return NotUnderstood(f"`{verb[:40]}` is not an aidlc command")
    if len(args) != 1:
        return NotUnderstood(f"`/aidlc {verb}` takes a Notion story URL")
    return _run(spec.name, args[0], stakeholders)


def _run(agent: str, url: str, stakeholders: tuple[str, ...]) -> Route:
    page_id = notion_page_id(url)
    if page_id is None:
        return NotUnderstood(f"{url[:80]!r} is not a Notion page URL")
    link = _LINK.match(url)
    return RunAgent(agent, page_id, link.group(1) if link else url, stakeholders)
