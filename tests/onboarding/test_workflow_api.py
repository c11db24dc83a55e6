"""The /workflows routes of the internal API, through the API function's handler as API Gateway (payload 2.0)
delivers them: good input, and bad input answered 400 / 404 / 409 with a message naming the problem, never a 5xx,
nothing recorded. The engine under them is the real one (durable SDK runner, the workflows table in moto) running
the synthetic workflow; the real workflows' own routes are exercised end to end in test_workflow_integration.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from runtime.onboarding.models import WorkflowStatus, new_ulid
from tests.onboarding.workflow_helpers import synthetic_engine

REQUIREMENTS = {"customer_id": "acme-co", "customer_name": "Acme", "contact_email": "ops@acme.example",
                "infrastructure": {"regions": ["us-east-1"], "services": ["s3"]}}


class _Services(SimpleNamespace):
    """The handler keys its resolver by its services (a weak reference, by identity)."""

    __hash__ = object.__hash__


@pytest.fixture(scope="module")
def sx():
    with synthetic_engine() as engine:
        yield engine


@pytest.fixture
def api(sx):
    from runtime.handlers import api as api_handler
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    # The API function's services as the handler reads them: IAM not required here (tested in
    # tests/pipeline/test_api.py), the workflow engine the local stack would hand it.
    services = _Services(settings=SimpleNamespace(require_iam_auth=False), api=None, workflows=sx.engine)

    def call(method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        event = http_api_event(method, path, headers={"content-type": "application/json"}, body=data)
        result = api_handler.handler(event, LocalLambdaContext(function_name="api"), services=services)
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}

    return call


def test_start_then_status_of_a_workflow(api, sx):
    status, reply = api("POST", "/workflows", {"kind": "onboarding", "input": {"requirements": REQUIREMENTS},
                                               "slack_channel": "C0123ABCD"})
    assert status == 202, reply
    workflow_id = reply["workflow_id"]
    assert reply["kind"] == "onboarding" and reply["customer_id"] == "acme-co"
    assert reply["thread"] == {"channel": "C0123ABCD"}
    sx.wait(workflow_id)
    status, reply = api("GET", f"/workflows/{workflow_id}")
    assert status == 200 and reply["status"] == "succeeded"
    assert [c["step"] for c in reply["checkpoints"] if c["status"] == "succeeded"] == ["step-0", "step-1"]
    assert reply["executions"] == [f"{workflow_id}-1"]


@pytest.mark.parametrize("body, named", [
    ({"kind": "teardown", "input": {}}, "kind"),
    ({"input": {}}, "kind"),
    ({"kind": "onboarding"}, "input"),
    ({"kind": "onboarding", "input": {}, "extra": 1}, "extra"),
    ({"kind": "onboarding", "input": {"requirements": {**REQUIREMENTS, "contact_email": "not-an-email"}}},
     "input.requirements.contact_email"),
    ({"kind": "onboarding", "input": {"requirements": {**REQUIREMENTS, "infrastructure": {"regions": ["mars-1"]}}}},
     "input.requirements.infrastructure.regions"),
    ({"kind": "onboarding", "input": {"requirements": REQUIREMENTS, "target_environment": "staging"}},
     "target_environment"),
    ({"kind": "provisioning", "input": {"customer_id": "Acme Co"}}, "input.customer_id"),
    ({"kind": "provisioning", "input": {"customer_id": "acme-co", "version": "1"}}, "input.version"),
    ({"kind": "onboarding", "input": {"requirements": REQUIREMENTS}, "slack_channel": "#general"}, "slack_channel"),
])
def test_start_refuses_bad_input_naming_the_field_and_records_nothing(api, sx, body, named):
    before = len(sx.store.for_customer("acme-co"))
    status, reply = api("POST", "/workflows", body)
    assert status == 400, reply
    assert named in reply["error"]["message"], reply
    assert len(sx.store.for_customer("acme-co")) == before


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\xff\xfe", b"{\"kind\": " + b"[" * 200 + b"]" * 200 + b"}"])
def test_start_refuses_a_body_that_is_not_a_json_object(api, raw):
    status, reply = api("POST", "/workflows", raw=raw)
    assert status == 400 and reply["error"]["code"] == "INVALID_REQUEST", reply


@pytest.mark.parametrize("method, suffix", [("GET", ""), ("POST", "/resume"), ("POST", "/cancel"),
                                            ("POST", "/approve")])
def test_unknown_and_malformed_ids(api, method, suffix):
    status, reply = api(method, f"/workflows/{new_ulid()}{suffix}")
    assert status == 404 and "not found" in reply["error"]["message"]
    status, reply = api(method, f"/workflows/not-a-ulid{suffix}")
    assert status == 400 and "ULID" in reply["error"]["message"]


def test_state_refusals_are_409(api, sx):
    workflow_id = sx.start(2)
    sx.wait(workflow_id)
    status, reply = api("POST", f"/workflows/{workflow_id}/resume")
    assert status == 409 and "only a failed workflow resumes" in reply["error"]["message"]
    status, reply = api("POST", f"/workflows/{workflow_id}/approve", {"approved": True})
    assert status == 409 and "not waiting for an approval" in reply["error"]["message"]
    status, reply = api("POST", f"/workflows/{workflow_id}/cancel")
    assert status == 409 and "already succeeded" in reply["error"]["message"]
    status, reply = api("POST", f"/workflows/{workflow_id}/approve", {"approved": "maybe"})
    assert status == 400 and "approved" in reply["error"]["message"]


def test_resume_and_cancel_of_a_failed_workflow(api, sx):
    failed = sx.start(3, {1: ["permanent"]})
    sx.wait(failed)
    status, reply = api("GET", f"/workflows/{failed}")
    assert reply["status"] == "failed" and reply["error"]["step"] == "step-1"
    status, reply = api("POST", f"/workflows/{failed}/resume")
    assert status == 202 and reply["status"] == "running"
    sx.wait(failed)
    assert sx.store.get(failed).state.status == WorkflowStatus.SUCCEEDED

    other = sx.start(2, {0: ["permanent"]})
    sx.wait(other)
    status, reply = api("POST", f"/workflows/{other}/cancel")
    assert status == 200 and reply["status"] == "cancelled"


# --- tenancy: the /workflows routes under the API's project access map (as /invoke and /invocation/{id}) -------

ALICE, BOB, OPS = ("arn:aws:iam::111111111111:role/alice", "arn:aws:iam::111111111111:role/bob",
                   "arn:aws:iam::111111111111:role/ops")


@pytest.fixture
def tenants(sx):
    """The API function's services with a real ApiService: two projects in moto's projects table, an access map
    giving alice project-a, bob project-b, ops every project; requests signed as API Gateway's IAM authorizer
    hands them over (requestContext.authorizer.iam.userArn)."""
    import boto3

    from runtime.handlers import api as api_handler
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event
    from runtime.models import ProjectConfig
    from runtime.pipeline.api import ApiService
    from runtime.pipeline.state.invocations import InvocationRepository
    from runtime.pipeline.state.projects import ProjectRepository
    from runtime.resources import INVOCATIONS, PROJECTS

    client = boto3.client("dynamodb", region_name="us-east-1")
    for table, name in ((PROJECTS, "projects-tenancy"), (INVOCATIONS, "invocations-tenancy")):
        if name not in client.list_tables()["TableNames"]:
            client.create_table(**table.create_table_request(name))
    projects = ProjectRepository("projects-tenancy", client)
    for project_id in ("project-a", "project-b"):
        projects.save(ProjectConfig(project_id=project_id, workspace_id="ws"))
    service = ApiService(invocations=InvocationRepository("invocations-tenancy", client), projects=projects,
                         queue=None, invoker=lambda: None,
                         access={ALICE: ["project-a"], BOB: ["project-b"], OPS: ["*"]})
    services = _Services(settings=SimpleNamespace(require_iam_auth=True), api=service, workflows=sx.engine)

    def call(caller: str, method: str, path: str, body=None) -> tuple[int, dict]:
        event = http_api_event(method, path, headers={"content-type": "application/json"},
                               body=json.dumps(body).encode() if body is not None else b"")
        event["requestContext"]["authorizer"] = {"iam": {"userArn": caller, "accountId": "111111111111"}}
        result = api_handler.handler(event, LocalLambdaContext(function_name="api"), services=services)
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}

    return call


def _start(tenants, caller, project_id, customer="tenant-co"):
    body = {"kind": "onboarding", "project_id": project_id,
            "input": {"requirements": {**REQUIREMENTS, "customer_id": customer}}}
    if project_id is None:
        del body["project_id"]
    return tenants(caller, "POST", "/workflows", body)


def test_a_workflow_is_seen_and_steered_only_by_callers_of_its_project(tenants, sx):
    status, reply = _start(tenants, ALICE, "project-a")
    assert status == 202 and reply["project_id"] == "project-a", reply
    workflow_id = reply["workflow_id"]
    sx.wait(workflow_id)
    for method, suffix in [("GET", ""), ("POST", "/resume"), ("POST", "/cancel"), ("POST", "/approve")]:
        status, reply = tenants(BOB, method, f"/workflows/{workflow_id}{suffix}")
        assert status == 403 and reply["error"]["code"] == "FORBIDDEN", (suffix, reply)
        assert "project-a" in reply["error"]["message"]
    assert sx.store.get(workflow_id).state.status == WorkflowStatus.SUCCEEDED  # bob's cancel did nothing
    assert tenants(ALICE, "GET", f"/workflows/{workflow_id}")[0] == 200
    assert tenants(OPS, "GET", f"/workflows/{workflow_id}")[0] == 200  # "*": every project


def test_a_start_for_another_project_or_none_is_refused_and_records_nothing(tenants, sx):
    before = len(sx.store.for_customer("refused-co"))
    status, reply = _start(tenants, ALICE, "project-b", "refused-co")
    assert status == 403 and reply["error"]["code"] == "FORBIDDEN", reply
    status, reply = _start(tenants, ALICE, None, "refused-co")  # no project: only a caller of every project may
    assert status == 403, reply
    status, reply = _start(tenants, OPS, "project-zzz", "refused-co")
    assert status == 404 and "project-zzz" in reply["error"]["message"], reply
    assert len(sx.store.for_customer("refused-co")) == before
