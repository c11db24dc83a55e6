"""Tenants are kept apart on the internal API: each caller (its IAM principal) may use the projects the access map
gives it; another project's runs and costs are refused (403, naming the project and the caller's projects), and
POST /invoke runs an agent only on a story of the project's own data source (another's page: 404)."""

from __future__ import annotations

import json

import pytest

from runtime.models import InvocationRecord, new_ulid

ACME = "arn:aws:iam::123456789012:role/acme-team"
OTHER = "arn:aws:iam::123456789012:role/other-team"


def call(p, method: str, path: str, caller: str, body: dict | None = None, query: str = "") -> tuple[int, dict]:
    from runtime.handlers import api
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    event = http_api_event(method, path, headers={"content-type": "application/json"},
                           body=json.dumps(body).encode() if body else b"", query=query)
    event["requestContext"]["authorizer"] = {"iam": {"userArn": caller}}
    result = api.handler(event, LocalLambdaContext(function_name="api"))
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}


@pytest.fixture
def tenants(pipeline):
    pipeline.services.api.access = {ACME: frozenset({"acme"}), OTHER: frozenset({"other"})}
    record = InvocationRecord(invocation_id=new_ulid(), notion_page_id="p", workspace_id="ws", project_id="acme",
                              agent_type="mock")
    pipeline.services.invocations.create(record)
    pipeline.acme_run = record.invocation_id
    return pipeline


@pytest.mark.parametrize("method, path", [
    ("GET", "/invocation/{run}"), ("POST", "/invocation/{run}/cancel"),
    ("GET", "/project/acme/invocations"), ("GET", "/project/acme/cost-summary"),
])
def test_another_tenants_runs_and_costs_are_refused(tenants, method, path):
    path = path.format(run=tenants.acme_run)
    status, reply = call(tenants, method, path, OTHER)
    assert status == 403 and reply["error"]["code"] == "FORBIDDEN"
    assert "project 'acme'" in reply["error"]["message"] and "its projects: other" in reply["error"]["message"]
    assert call(tenants, method, path, ACME)[0] == 200  # its own tenant sees it
    assert call(tenants, method, path, "arn:aws:iam::123456789012:role/nobody")[0] == 403


def test_another_tenant_cannot_start_a_run_in_the_project(tenants):
    body = {"project_id": "acme", "notion_page_id": "page-x", "agent_type": "code"}
    status, _ = call(tenants, "POST", "/invoke", OTHER, body)
    assert status == 403 and tenants.queue_depth() == 0
    assert call(tenants, "POST", "/invoke", ACME, body)[0] == 202


def test_post_invoke_refuses_a_page_outside_the_projects_data_source(notion_pipeline):
    from tests.pipeline.conftest import new_story

    p = notion_pipeline
    env = p.notion_env
    outside = env.user.create_page(parent_data_source_id=env.seed.dashboard_data_source_id, title="Not a story")
    body = {"project_id": "acme", "notion_page_id": outside["id"], "agent_type": "code"}
    status, reply = p.api("POST", "/invoke", body=json.dumps(body).encode())
    assert status == 404 and "not found" in reply["error"]["message"] and p.queue_depth() == 0
    story = new_story(env, "A real story")
    body["notion_page_id"] = story["id"]
    assert p.api("POST", "/invoke", body=json.dumps(body).encode())[0] == 202
