"""The projects table: project configuration (seed 2.2), the lookup from a Notion data source or database to its
project, and the budget ledger.

Items (hash key `pk`):
  project#{id}              the ProjectConfig
  source#{notion id}        -> project_id, for the data source id and the database id
  budget#{id}#{YYYY-MM}     month_to_date, reserved, committed (= month_to_date + reserved), agent:{name} costs,
                            alert_80 / alert_100 markers
  slots#{id}                running: how many runs hold a concurrency slot
  projectrow#{page id}      a Notion Projects row: the project it configures, the digest of its last refusal

The budget check is one conditional update (`committed <= limit - amount`), never a read followed by a write, so
concurrent reservations can't overshoot the monthly limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from runtime.models import ProjectConfig
from runtime.pipeline.adapters import aws
from runtime.pipeline.state.dynamo import from_item, to_item, to_value


# Within one delivery (a webhook event, a queue message) a project is read once: the webhook alone asked for the same
# project four times. A context variable, so concurrent deliveries in one process never share what they read.
_read_once: ContextVar[dict[str, ProjectConfig | None] | None] = ContextVar("aidlc_projects_read_once", default=None)


@contextmanager
def projects_read_once() -> Iterator[None]:
    """Inside, each project (and each data source's project) is read from the table once; `save` forgets them."""
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def budget_month(when: datetime | None = None) -> str:
    return (when or datetime.now(timezone.utc)).strftime("%Y-%m")


@dataclass
class BudgetState:
    project_id: str
    month: str
    month_to_date: Decimal
    reserved: Decimal
    by_agent: dict[str, Decimal]
    alerts: set[str]
    by_version: dict[str, Decimal] = field(default_factory=dict)  # "code@prod:3" -> cost


class ProjectRepository(aws.TableAdapter):
    def __init__(self, table_name: str, client: Any | None = None, *, default_project: ProjectConfig | None = None):
        super().__init__(table_name, client)
        self.default_project = default_project
        self._seeded = False

    # --- configuration -------------------------------------------------------------------------------------

    def save(self, config: ProjectConfig) -> None:
        if (memo := _read_once.get()) is not None:
            memo.clear()
        previous = self._get(config.project_id)
        sources = {config.notion_data_source_id, config.notion_database_id} - {""}
        items = [{"pk": f"source#{_norm(source)}", "project_id": config.project_id} for source in sources]
        # The routes before the project: whoever finds the project finds its stories' data source too. The seeding of
        # the default project (another thread, another Lambda instance) skips its save once the project is there and
        # resolves the story's data source at once: written the other way round, a 40-story burst lost a story.
        items.append({"pk": f"project#{config.project_id}", "config": config.model_dump(mode="json")})
        for item in items:
            self.client.put_item(TableName=self.table_name, Item=to_item(item))
        # A data source the project no longer names stops routing to it (only while it still points here).
        stale = {_norm(s) for s in {previous.notion_data_source_id, previous.notion_database_id} - {""}} \
            if previous else set()
        for source in stale - {_norm(s) for s in sources}:
            try:
                self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": f"source#{source}"}},
                                        ConditionExpression="project_id = :p",
                                        ExpressionAttributeValues={":p": {"S": config.project_id}})
            except self.client.exceptions.ConditionalCheckFailedException:
                pass

    @property
    def projects_data_source_id(self) -> str | None:
        """The deployment's Notion "Projects" data source (from the default project), or None."""
        return self.default_project.projects_data_source_id if self.default_project else None

    def config_row(self, page_id: str) -> dict | None:
        """What is known of a Projects row: {project_id, refused} (runtime/pipeline/project_sync.py)."""
        item = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": f"projectrow#{_norm(page_id)}"}},
                                    ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def record_config_row(self, page_id: str, *, project_id: str | None, refused: str | None) -> None:
        item = {"pk": f"projectrow#{_norm(page_id)}", "project_id": project_id or "", "refused": refused or ""}
        self.client.put_item(TableName=self.table_name, Item=to_item(item))

    def seed_default(self) -> None:
        """Store the deployment's default project (from AIDLC_PROJECT_CONFIG) once, unless it is already there."""
        if self._seeded or self.default_project is None:
            return
        if self._get(self.default_project.project_id) is None:
            self.save(self.default_project)
        self._seeded = True

    def _get(self, project_id: str) -> ProjectConfig | None:
        memo = _read_once.get()
        key = f"project#{project_id}"
        if memo is not None and memo.get(key) is not None:
            return memo[key]
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        found = ProjectConfig.model_validate(from_item(item)["config"]) if item else None
        if memo is not None and found is not None:
            memo[key] = found
        return found

    def get(self, project_id: str) -> ProjectConfig | None:
        self.seed_default()
        return self._get(project_id)

    def resolve(self, *notion_ids: str | None) -> ProjectConfig | None:
        """The project whose stories live in one of these data source / database ids."""
        self.seed_default()
        memo = _read_once.get()
        key = "source#" + ",".join(_norm(i) for i in filter(None, notion_ids))
        if memo is not None and key in memo:
            return memo[key]
        found = None
        for notion_id in filter(None, notion_ids):
            item = self.client.get_item(
                TableName=self.table_name, Key={"pk": {"S": f"source#{_norm(notion_id)}"}}, ConsistentRead=True
            ).get("Item")  # consistent: a route written just before (save writes routes first) must be seen
            if item:
                found = self._get(from_item(item)["project_id"])
                break
        if memo is not None:
            memo[key] = found
        return found

    def all(self) -> list[ProjectConfig]:
        self.seed_default()
        configs: list[ProjectConfig] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": "project#"}},
        }
        while True:
            response = self.client.scan(**kwargs)
            configs.extend(ProjectConfig.model_validate(from_item(i)["config"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return configs
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- the budget ledger ---------------------------------------------------------------------------------

    def _budget_key(self, project_id: str, month: str) -> dict:
        return {"pk": {"S": f"budget#{project_id}#{month}"}}

    def _slots_key(self, project_id: str) -> dict:
        return {"pk": {"S": f"slots#{project_id}"}}

    def reserve_budget_item(self, project: ProjectConfig, month: str, amount: Decimal) -> dict:
        """Update for a transaction: hold `amount` unless month-to-date + reserved + amount would pass the limit."""
        ceiling = project.cost_limit_per_month - amount
        return {
            "TableName": self.table_name,
            "Key": self._budget_key(project.project_id, month),
            "UpdateExpression": "ADD committed :a, reserved :a SET monthly_limit = :l",
            # attribute_not_exists only passes when this run alone fits (ceiling >= 0 is checked by the caller).
            "ConditionExpression": "attribute_not_exists(committed) OR committed <= :c",
            "ExpressionAttributeValues": {":a": to_value(amount), ":c": to_value(ceiling),
                                          ":l": to_value(project.cost_limit_per_month)},
        }

    def take_slot_item(self, project: ProjectConfig) -> dict:
        return {
            "TableName": self.table_name,
            "Key": self._slots_key(project.project_id),
            "UpdateExpression": "ADD running :one",
            "ConditionExpression": "attribute_not_exists(running) OR running < :cap",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": to_value(project.concurrency_limit)},
        }

    def settle_items(
        self,
        project_id: str,
        month: str | None,
        *,
        reserved: Decimal,
        cost: Decimal,
        agent_type: str,
        release_slot: bool,
        version: str | None = None,
    ) -> list[dict]:
        """Updates for a transaction: add the real cost (to the month, the agent and the agent version that ran it:
        `version:code@prod:3`), drop the reservation, give the slot back."""
        items: list[dict] = []
        if month is not None:
            names = {"#agent": f"agent:{agent_type}", **({"#version": f"version:{version}"} if version else {})}
            items.append({
                "TableName": self.table_name,
                "Key": self._budget_key(project_id, month),
                "UpdateExpression": "ADD month_to_date :cost, committed :delta, reserved :release, #agent :cost"
                                    + (", #version :cost" if version else ""),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    ":cost": to_value(cost), ":delta": to_value(cost - reserved), ":release": to_value(-reserved),
                },
            })
        if release_slot:
            items.append({
                "TableName": self.table_name,
                "Key": self._slots_key(project_id),
                "UpdateExpression": "ADD running :minus",
                "ExpressionAttributeValues": {":minus": {"N": "-1"}},
            })
        return items

    def budget(self, project_id: str, month: str | None = None) -> BudgetState:
        month = month or budget_month()
        item = self.client.get_item(
            TableName=self.table_name, Key=self._budget_key(project_id, month), ConsistentRead=True
        ).get("Item")
        data = from_item(item) if item else {}
        return BudgetState(
            project_id=project_id,
            month=month,
            month_to_date=Decimal(str(data.get("month_to_date", 0))),
            reserved=Decimal(str(data.get("reserved", 0))),
            by_agent={k.split(":", 1)[1]: Decimal(str(v)) for k, v in data.items() if k.startswith("agent:")},
            alerts={k for k in ("alert_80", "alert_100") if k in data},
            by_version={k.split(":", 1)[1]: Decimal(str(v)) for k, v in data.items() if k.startswith("version:")},
        )

    def running(self, project_id: str) -> int:
        item = self.client.get_item(
            TableName=self.table_name, Key=self._slots_key(project_id), ConsistentRead=True
        ).get("Item")
        return int(from_item(item).get("running", 0)) if item else 0

    def mark_alert(self, project_id: str, month: str, level: str) -> bool:
        """Record that the `level` alert was sent this month; False when it already was (send it once)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._budget_key(project_id, month),
                UpdateExpression="SET #a = :now",
                ConditionExpression="attribute_not_exists(#a)",
                ExpressionAttributeNames={"#a": level},
                ExpressionAttributeValues={":now": {"S": datetime.now(timezone.utc).isoformat()}},
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False


def _norm(notion_id: str) -> str:
    """Notion ids come with and without dashes; compare them without."""
    return notion_id.replace("-", "").lower()
