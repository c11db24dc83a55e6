"""The default project's seeding under concurrent first deliveries (seen in the 40-story load test: one story's
webhook answered "no project for this data source" and the story never ran)."""

from __future__ import annotations

from tests.pipeline.conftest import make_project


class _SeesTheProjectFirst:
    """A DynamoDB client that, the moment the project item is written, lets a second reader (another thread, or another
    Lambda instance, seeding the same default project) do what it would do then: skip its own save, since the project
    is there, and route a story by its data source."""

    def __init__(self, client, reader) -> None:
        self._client = client
        self._reader = reader
        self.routed: list = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_item(self, **request):
        reply = self._client.put_item(**request)
        if request["Item"]["pk"]["S"].startswith("project#"):
            self.routed.append(self._reader())
        return reply


def test_a_reader_that_finds_the_default_project_also_finds_its_data_source(aws_names):
    from runtime.aws_clients import default_clients
    from runtime.pipeline.state.projects import ProjectRepository

    table = aws_names["tables"]["projects"]
    project = make_project(notion_data_source_id="ds-stories")
    dynamodb = default_clients().client("dynamodb")

    def second_instance_routes_a_story():
        other = ProjectRepository(table, dynamodb, default_project=project)
        return other.resolve("ds-stories")

    watching = _SeesTheProjectFirst(dynamodb, second_instance_routes_a_story)
    ProjectRepository(table, watching, default_project=project).seed_default()

    assert len(watching.routed) == 1
    assert watching.routed[0] is not None and watching.routed[0].project_id == project.project_id
