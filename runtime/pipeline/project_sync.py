"""Projects configured from Notion (seed 2.2, "Project Config Page -> sync -> DynamoDB").

One deployment serves several teams: the stack configuration's project is the default one, and each row of the
"Projects" data source (its properties: `PROJECT_PROPERTIES`) configures one more. A row is read into the same
`ProjectConfig` the default project is, so it is validated by the same model:

    row edited (webhook, or the reconcile sweeper for a missed event)
      -> properties -> ProjectConfig (+ the rules a row must keep: its own id, its own stories data source)
      -> valid and changed: saved to the projects table (its stories are routed to it from then on)
      -> invalid: refused; the previous configuration stays in force, and one comment on the row says what is
         wrong and how to fix it (once per distinct problem: the sweeper sees the same bad row every sweep)

The month-to-date cost goes back to the row's "Month-to-date cost (USD)" from the reconcile sweeper, not after each
completion: a sweep reads every row anyway (one query for all projects) and writes a row only when its figure
changed, so it costs at most one Notion call per project per sweep, where a write after each completion costs one per
run (a busy project runs many per sweep) and would race the month's other completions.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from pydantic import ValidationError

from runtime.models import BranchStrategy, ChainTemplate, ProjectConfig
from runtime.pipeline.common import UsesRegistry
from runtime.pipeline.ports import parent_ids, same_id
from runtime.pipeline.state.projects import ProjectRepository

log = logging.getLogger(__name__)

PROJECTS_DATA_SOURCE_TITLE = "Projects"
COST_PROPERTY = "Month-to-date cost (USD)"
PROJECT_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,30}"  # as the stack configuration's aidlc:projectId


@dataclass(frozen=True)
class ProjectProperty:
    """One column of the Projects data source: its Notion type, the `ProjectConfig` field it fills and what a
    person should put in it (quoted in the comment on a bad row)."""

    name: str
    kind: str
    field: str | None  # None: written by aidlc, never read
    help: str
    options: tuple[str, ...] = ()


PROJECT_PROPERTIES: tuple[ProjectProperty, ...] = (
    ProjectProperty("Project", "title", "project_id",
                    "the project id: lower-case letters, digits and dashes, up to 31 characters (e.g. 'team-b')"),
    ProjectProperty("Stories data source", "rich_text", "notion_data_source_id",
                    "the id of the project's stories data source (32 hexadecimal digits, dashes allowed; the "
                    "database's ... menu -> Manage data sources -> Copy data source ID)"),
    ProjectProperty("Dashboard data source", "rich_text", "dashboard_data_source_id",
                    "optional: the id of the execution dashboard's data source"),
    ProjectProperty("GitHub repo", "rich_text", "github_repo", "owner/name of the repository, e.g. 'acme/web-app'"),
    ProjectProperty("Branch strategy", "select", "github_branch_strategy",
                    "one of " + ", ".join(s.value for s in BranchStrategy), tuple(s.value for s in BranchStrategy)),
    ProjectProperty("Coding standards", "rich_text", "coding_standards", "free text the agents follow"),
    ProjectProperty("Framework preferences", "multi_select", "framework_preferences", "frameworks the agents prefer"),
    ProjectProperty("Chain template", "select", "agent_chain_template",
                    "one of " + ", ".join(c.value for c in ChainTemplate), tuple(c.value for c in ChainTemplate)),
    ProjectProperty("Trigger property", "rich_text", "trigger_property",
                    "optional: the stories' status property (default 'Status')"),
    ProjectProperty("Trigger map", "rich_text", "trigger_map",
                    "one 'Status value: agent_name' per line, e.g. 'Build It: code'"),
    ProjectProperty("Expiry days", "number", "prototype_expiry_days", "days a prototype stays up, 1 to 365"),
    ProjectProperty("Cost limit per run (USD)", "number", "cost_limit_per_invocation",
                    "the most one agent run may cost, in USD"),
    ProjectProperty("Cost limit per month (USD)", "number", "cost_limit_per_month",
                    "the most the project may spend in a month, in USD (at least the per-run limit)"),
    ProjectProperty("Concurrency limit", "number", "concurrency_limit", "how many agents may run at once (>= 1)"),
    ProjectProperty("Approvers", "rich_text", "approvers",
                    "Slack user ids who may approve, separated by commas or spaces (e.g. 'U012AB3CD, U045EF6GH')"),
    ProjectProperty("Protected paths", "rich_text", "protected_paths",
                    "repository path globs agents must not change, one per line (e.g. 'infra/**')"),
    ProjectProperty("Owner", "people", "owner_user_id", "who is told about budget alerts (the first person)"),
    ProjectProperty("Knowledge base", "rich_text", "knowledge_base_id", "optional: a Bedrock Knowledge Base id"),
    ProjectProperty("Agent endpoint", "select", "agent_endpoint",
                    "optional: which agent versions the project runs, one of dev, staging, prod (default prod)",
                    ("dev", "staging", "prod")),
    ProjectProperty("Beta share", "number", "beta_share",
                    "optional: the share of runs (0 to 1, e.g. 0.1) sent to an agent's beta version where the "
                    "deployment has one"),
    ProjectProperty(COST_PROPERTY, "number", None, "written by aidlc: what the project spent this month"),
)
_BY_FIELD = {p.field: p for p in PROJECT_PROPERTIES if p.field}


def projects_database_properties() -> dict[str, dict[str, Any]]:
    """The Projects data source's schema, as `POST /v1/databases` `initial_data_source.properties` takes it."""
    schema: dict[str, dict[str, Any]] = {}
    for prop in PROJECT_PROPERTIES:
        if prop.kind in ("select", "multi_select"):
            schema[prop.name] = {prop.kind: {"options": [{"name": o} for o in prop.options]}}
        elif prop.kind == "number":
            schema[prop.name] = {"number": {"format": "dollar" if "USD" in prop.name else "number"}}
        else:
            schema[prop.name] = {prop.kind: {}}
    return schema


class RowNotion(Protocol):
    """What the sync needs from Notion (the Notion adapter has it)."""

    def query_data_source(self, data_source_id: str, **kwargs: Any) -> list[dict]: ...
    def create_comment(self, page_id: str, text: str, **kwargs: Any) -> dict: ...
    def update_properties(self, page_id: str, properties: dict) -> dict: ...


@dataclass
class SyncOutcome:
    status: str  # synced | unchanged | refused
    page_id: str
    project_id: str | None = None
    problems: list[str] = field(default_factory=list)
    commented: bool = False

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": f"project_{self.status}", "page_id": self.page_id}
        if self.project_id:
            body["project_id"] = self.project_id
        if self.problems:
            body["problems"] = self.problems
        return body


# --- a row -> ProjectConfig fields (pure) -----------------------------------------------------------------------


def _notion_id(text: str) -> str | None:
    """A Notion id written with or without dashes (or inside a URL), dashed; None when there is none."""
    found = re.search(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", text)
    if not found:
        return None
    raw = found.group(0).replace("-", "").lower()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _trigger_map(text: str) -> tuple[dict[str, str], list[str]]:
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip().lstrip("-*• ").strip()
        if not line:
            continue
        value, sep, agent = line.rpartition(":")
        if not sep or not value.strip() or not agent.strip():
            problems.append(f"Trigger map: line {number} ({line!r}) is not 'Status value: agent_name'")
            continue
        mapping[value.strip()] = agent.strip()
    return mapping, problems


def row_values(page: dict) -> tuple[dict[str, Any], list[str]]:
    """The `ProjectConfig` fields a Projects row sets (empty cells left out: the model's defaults apply), and the
    problems found before the model sees them (each names the property)."""
    from runtime.notion.adapter import plain_value

    properties = page.get("properties") or {}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for prop in PROJECT_PROPERTIES:
        if prop.field is None:
            continue
        raw_prop = properties.get(prop.name)
        if raw_prop is None:
            if prop.kind == "title":  # the title column may be named anything: it is the row's name
                raw_prop = next((p for p in properties.values() if p.get("type") == "title"), None)
            if raw_prop is None:
                continue
        if raw_prop.get("type") != prop.kind:
            problems.append(f"{prop.name}: is a {raw_prop.get('type')} property; it must be {prop.kind} "
                            f"({prop.help})")
            continue
        value = plain_value(raw_prop)
        if value in (None, "", []):
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        if prop.field in ("notion_data_source_id", "dashboard_data_source_id"):
            notion_id = _notion_id(value)
            if notion_id is None:
                problems.append(f"{prop.name}: {value!r} is not a Notion id ({prop.help})")
                continue
            value = notion_id
        elif prop.field == "project_id" and not re.fullmatch(PROJECT_ID_PATTERN, value):
            problems.append(f"{prop.name}: {value!r} is not a project id ({prop.help})")
            continue
        elif prop.field == "trigger_map":
            value, found = _trigger_map(value)
            problems += found
        elif prop.field == "approvers":
            value = [item for item in re.split(r"[\s,;]+", value) if item]
        elif prop.field == "protected_paths":
            value = [line.strip() for line in value.splitlines() if line.strip()]
        elif prop.field == "owner_user_id":
            value = value[0]
        elif prop.kind == "number" and prop.field in ("prototype_expiry_days", "concurrency_limit"):
            if value != int(value):
                problems.append(f"{prop.name}: {value} is not a whole number ({prop.help})")
                continue
            value = int(value)
        elif prop.field == "beta_share":
            value = float(value)
        elif prop.kind == "number":
            value = Decimal(str(value))
        values[prop.field] = value
    if "project_id" not in values and not any(p.startswith("Project:") for p in problems):
        problems.append(f"Project: the row has no project id ({_BY_FIELD['project_id'].help})")
    if "notion_data_source_id" not in values and not any(p.startswith("Stories data source:") for p in problems):
        problems.append(f"Stories data source: empty ({_BY_FIELD['notion_data_source_id'].help})")
    return values, problems


def describe_errors(exc: ValidationError) -> list[str]:
    """Pydantic's errors, each named by the row's property (not the model's field)."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if not loc:  # a rule across fields: name them as the row does
            for name, prop in _BY_FIELD.items():
                message = message.replace(str(name), prop.name)
            problems.append(message)
            continue
        prop = _BY_FIELD.get(loc[0])
        name = prop.name if prop else loc[0]
        where = name + "".join(f" [{part}]" for part in loc[1:])
        problems.append(f"{where}: {message} (got {error.get('input')!r})" + (f"; {prop.help}" if prop else ""))
    return problems


def comment_text(problems: list[str]) -> str:
    lines = "\n".join(f"- {p}" for p in problems)
    return ("aidlc did not apply this edit: the project's previous configuration stays in force.\n"
            f"{lines}\n"
            "Fix the properties named above; the corrected row is applied on its next edit (or by the next "
            "reconcile sweep).")


def _comparable(config: ProjectConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude={"created_at", "updated_at", "month_to_date_cost"})


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- the sync ----------------------------------------------------------------------------------------------------


class ProjectSync(UsesRegistry):
    def __init__(self, *, notion: RowNotion, projects: ProjectRepository, registry: Any | None = None,
                 clock: Any = lambda: datetime.now(timezone.utc)) -> None:
        self.notion = notion
        self.projects = projects
        self._registry = registry
        self.clock = clock

    @property
    def data_source_id(self) -> str | None:
        return self.projects.projects_data_source_id

    def is_project_row(self, page: dict) -> bool:
        source, _ = parent_ids(page)
        return same_id(source, self.data_source_id)

    def sync_row(self, page: dict) -> SyncOutcome:
        """Validate one Projects row and save it, or refuse it (comment once, previous configuration kept)."""
        page_id = page["id"]
        if page.get("in_trash") or page.get("archived"):
            # A row moved to the trash leaves its project as it was: runs and costs stay under it.
            return SyncOutcome("unchanged", page_id, problems=["the row is in the trash"])
        values, problems = row_values(page)
        config: ProjectConfig | None = None
        if not problems:
            default = self.projects.default_project
            try:
                config = ProjectConfig.model_validate({
                    "workspace_id": default.workspace_id if default else "", **values,
                    "notion_config_page_id": page_id})
            except ValidationError as exc:
                problems = describe_errors(exc)
        existing = None
        if config is not None:
            existing = self.projects.get(config.project_id)
            problems = self._conflicts(page_id, config, existing)
        state = self.projects.config_row(page_id) or {}
        if problems:
            return self._refuse(page_id, values.get("project_id"), problems, state)
        assert config is not None
        if existing is not None and _comparable(existing) == _comparable(config):
            outcome = SyncOutcome("unchanged", page_id, config.project_id)
        else:
            now = self.clock()
            self.projects.save(config.model_copy(update={
                "created_at": existing.created_at if existing else now, "updated_at": now}))
            log.info("project %s configured from its Projects row", config.project_id)
            outcome = SyncOutcome("synced", page_id, config.project_id)
        if state.get("project_id") != config.project_id or state.get("refused"):
            self.projects.record_config_row(page_id, project_id=config.project_id, refused=None)
        return outcome

    def _conflicts(self, page_id: str, config: ProjectConfig, existing: ProjectConfig | None) -> list[str]:
        problems: list[str] = []
        default = self.projects.default_project
        state = self.projects.config_row(page_id) or {}
        if default is not None and config.project_id == default.project_id:
            problems.append(f"Project: {config.project_id!r} is the deployment's default project, configured in the "
                            "stack file (aidlc:projectId in Pulumi.<stack>.yaml); give this row another id")
        elif existing is not None and not same_id(existing.notion_config_page_id, page_id):
            problems.append(f"Project: {config.project_id!r} is already configured by another row; give this row "
                            "another id")
        if state.get("project_id") and state["project_id"] != config.project_id:
            problems.append(f"Project: this row configures project {state['project_id']!r}; its id cannot change "
                            "(its runs and costs are kept under it): set it back, and add a new row for a new project")
        try:
            self.registry.trigger_map(config.trigger_map)
        except KeyError as exc:
            problems.append(f"Trigger map: {exc.args[0].removeprefix('project trigger_map ')} (agents: "
                            f"{', '.join(self.registry.agents)})")
        if same_id(config.notion_data_source_id, self.data_source_id):
            problems.append("Stories data source: that is the Projects data source itself; name the data source "
                            "the project's stories are in")
        else:
            owner = self.projects.resolve(config.notion_data_source_id)
            if owner is not None and owner.project_id != config.project_id:
                problems.append(f"Stories data source: it already holds the stories of project {owner.project_id!r}; "
                                "each project needs a stories data source of its own")
        return problems

    def _refuse(self, page_id: str, project_id: str | None, problems: list[str], state: dict) -> SyncOutcome:
        digest = hashlib.sha256("\n".join(problems).encode()).hexdigest()[:16]
        outcome = SyncOutcome("refused", page_id, project_id, problems)
        log.warning("Projects row %s refused: %s", page_id, "; ".join(problems))
        if state.get("refused") != digest:  # the same problems were already told: say it once
            self.notion.create_comment(page_id, comment_text(problems))
            outcome.commented = True
            self.projects.record_config_row(page_id, project_id=state.get("project_id"), refused=digest)
        return outcome

    # --- the sweeper's side ------------------------------------------------------------------------------------

    def sync_all(self) -> dict[str, Any]:
        """Every row of the Projects data source (one paginated query): edits whose webhook never came are applied
        (or refused) here, and each row's month-to-date cost is brought up to date."""
        if not self.data_source_id:
            return {}
        outcomes: dict[str, list[str]] = {"synced": [], "unchanged": [], "refused": []}
        costs: list[str] = []
        for page in self.notion.query_data_source(self.data_source_id):
            outcome = self.sync_row(page)
            outcomes[outcome.status].append(outcome.project_id or outcome.page_id)
            if outcome.status != "refused" and outcome.project_id and self.write_cost(page, outcome.project_id):
                costs.append(outcome.project_id)
        return {**outcomes, "costs_written": costs}

    def write_cost(self, page: dict, project_id: str) -> bool:
        """Set the row's month-to-date cost when the ledger's figure (to the cent) differs from what it shows."""
        project = self.projects.get(project_id)
        if project is None or not same_id(project.notion_config_page_id, page["id"]):
            return False
        spent = cents(self.projects.budget(project_id).month_to_date)
        shown = ((page.get("properties") or {}).get(COST_PROPERTY) or {}).get("number")
        if shown is not None and cents(Decimal(str(shown))) == spent:
            return False
        self.notion.update_properties(page["id"], {COST_PROPERTY: {"number": float(spent)}})
        return True


def create_projects_database(notion: Any, *, parent_page_id: str, title: str = PROJECTS_DATA_SOURCE_TITLE) -> dict:
    """The Projects database under `parent_page_id` (set-up: the local stack, or once for a real workspace);
    returns the database, whose `data_sources[0].id` is the deployment's Projects data source."""
    return notion.create_database(parent_page_id=parent_page_id, title=title,
                                  properties=projects_database_properties())


def find_or_create_projects(notion: Any, *, parent_page_id: str) -> str:
    """The id of the workspace's "Projects" data source (found by search), created under `parent_page_id` when
    there is none. Idempotent: a second set-up finds the first one's."""
    for source in notion.search(PROJECTS_DATA_SOURCE_TITLE, object_type="data_source"):
        title = "".join(item.get("plain_text", "") for item in source.get("title") or [])
        if title == PROJECTS_DATA_SOURCE_TITLE and not source.get("in_trash"):
            return source["id"]
    return create_projects_database(notion, parent_page_id=parent_page_id)["data_sources"][0]["id"]


@dataclass(frozen=True)
class ExampleProject:
    projects_data_source_id: str
    project_id: str
    stories_data_source_id: str
    trigger: str


def seed_example_project(notion: Any, *, parent_page_id: str, status_values: list[str],
                         project_id: str = "team-b", trigger: str = "Ship It") -> ExampleProject:
    """The local stack's second team (`aidlc dev`): a Projects data source with one row, "team-b", whose stories
    live in a database of their own, with a trigger of its own ("Ship It" starts the code agent) and a smaller
    budget. Made once; a restart finds it (the reconcile sweep at start syncs the row into the projects table)."""
    projects_ds = find_or_create_projects(notion, parent_page_id=parent_page_id)
    for row in notion.query_data_source(projects_ds):
        values, _ = row_values(row)
        if values.get("project_id") == project_id and values.get("notion_data_source_id"):
            return ExampleProject(projects_ds, project_id, values["notion_data_source_id"], trigger)
    from runtime.notion.schema import story_properties

    stories = notion.create_database(parent_page_id=parent_page_id, title="Team B Stories",
                                     properties=story_properties([*status_values, trigger]))
    stories_ds = stories["data_sources"][0]["id"]
    notion.create_page(parent_data_source_id=stories_ds, title="Team B: checkout shows delivery dates",
                       properties={"Status": {"status": {"name": "Ready"}}},
                       markdown="As a shopper I want to see the delivery date before I pay.")
    notion.create_page(parent_data_source_id=projects_ds, title=project_id, title_property="Project",
                       properties=row_properties({
                           "Stories data source": stories_ds, "GitHub repo": "local/team-b",
                           "Branch strategy": "feature-branch", "Chain template": "story-to-code",
                           "Coding standards": "Small functions, tests first.", "Trigger map": f"{trigger}: code",
                           "Expiry days": 3, "Cost limit per run (USD)": 2, "Cost limit per month (USD)": 20,
                           "Concurrency limit": 2}))
    return ExampleProject(projects_ds, project_id, stories_ds, trigger)


def row_properties(config: dict[str, Any]) -> dict[str, Any]:
    """Notion property values for a Projects row from plain values keyed by property name (set-up and tests)."""
    from runtime.notion.adapter import property_value

    kinds = {p.name: p.kind for p in PROJECT_PROPERTIES}
    out: dict[str, Any] = {}
    for name, value in config.items():
        kind = kinds[name]
        if kind == "people":
            out[name] = {"people": [{"id": v} for v in value]}
        elif kind == "number":
            out[name] = {"number": value}
        else:
            out[name] = property_value(kind, value)
    return out
