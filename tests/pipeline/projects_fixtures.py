"""Helpers for the tests of projects configured from Notion: a Projects database and a second team's stories
database in the Notion emulator, and a pipeline whose default project names that Projects data source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.pipeline.conftest import event_body, make_notion_pipeline, signed

TEAM_B_TRIGGER = "Build It"  # team-b's own Status value (its trigger map sends it to the code agent)


@dataclass
class TwoTeams:
    pipeline: Any
    projects_data_source_id: str
    team_b_data_source_id: str

    @property
    def env(self):
        return self.pipeline.notion_env

    def add_row(self, values: dict[str, Any]) -> dict:
        """A Projects row created by the person (title: the project id)."""
        from runtime.pipeline.project_sync import row_properties

        values = dict(values)
        title = values.pop("Project")
        return self.env.user.create_page(parent_data_source_id=self.projects_data_source_id, title=title,
                                         properties=row_properties(values), title_property="Project")

    def edit_row(self, page_id: str, values: dict[str, Any]) -> dict:
        from runtime.pipeline.project_sync import row_properties

        return self.env.user.update_properties(page_id, row_properties(values))

    def deliver(self, page: dict, event_type: str = "page.properties_updated") -> tuple[int, dict]:
        """The webhook event Notion sends for a person's edit of `page` (signed with the stored token)."""
        page = self.env.bot.retrieve_page(page["id"])
        body = event_body(page, env=self.env, event_type=event_type)
        return self.pipeline.webhook(body, signed(body))

    def comments(self, page_id: str) -> list[str]:
        from runtime.notion.adapter import rich_text_plain

        return [rich_text_plain(c.get("rich_text")) for c in self.env.bot.list_comments(page_id)]

    def team_b_story(self, title: str, status: str = TEAM_B_TRIGGER) -> dict:
        return self.env.user.create_page(parent_data_source_id=self.team_b_data_source_id, title=title,
                                         properties={"Status": {"status": {"name": status}}},
                                         markdown=f"As a team B user I want {title.lower()}.")

    def team_b_row(self, **overrides: Any) -> dict[str, Any]:
        row = {
            "Project": "team-b",
            "Stories data source": self.team_b_data_source_id,
            "GitHub repo": "team-b/shop",
            "Branch strategy": "direct-to-main",
            "Coding standards": "Type hints everywhere.",
            "Framework preferences": ["fastapi", "htmx"],
            "Chain template": "story-to-code",
            "Trigger map": f"{TEAM_B_TRIGGER}: code",
            "Expiry days": 3,
            "Cost limit per run (USD)": 2,
            "Cost limit per month (USD)": 3,
            "Concurrency limit": 2,
            "Approvers": "U0TEAMB1, U0TEAMB2",
            "Protected paths": "infra/**\n.github/**",
        }
        row.update(overrides)
        return row


def two_teams(aws_names, notion_env) -> TwoTeams:
    from runtime.notion.schema import story_properties, story_status_values
    from runtime.pipeline.project_sync import create_projects_database
    from tests.pipeline.conftest import TOKEN

    root = notion_env.seed.root_page_id
    projects = create_projects_database(notion_env.user, parent_page_id=root)
    team_b = notion_env.user.create_database(
        parent_page_id=root, title="Team B stories",
        properties=story_properties([*story_status_values(), TEAM_B_TRIGGER]))
    p = make_notion_pipeline(aws_names, notion_env, projects_data_source_id=projects["data_sources"][0]["id"],
                             github_repo="acme/web", trigger_map={"Backlog": "spec"})
    p.put_secret("webhook-verification-token", TOKEN)
    return TwoTeams(p, projects["data_sources"][0]["id"], team_b["data_sources"][0]["id"])
