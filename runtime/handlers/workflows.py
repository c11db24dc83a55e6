"""The onboarding workflows on the internal API (IAM auth, served by the API function; runtime/resources.py ROUTES):

    POST /workflows                  {"kind", "input": {...}, "project_id"?, "slack_channel"?}               202 / 403
    GET  /workflows/{id}             the state, its checkpoints, whether it waits for an approval           200 / 404
    POST /workflows/{id}/resume      a failed workflow again from its last good checkpoint                  202 / 404 / 409
    POST /workflows/{id}/cancel      stop at the next step boundary (CANCELLED recorded there)             200 / 404 / 409
    POST /workflows/{id}/approve     {"approved"?: true, "by"?: "..."}: the change-set approval            202 / 404 / 409

Tenancy as the rest of the internal API (runtime/pipeline/api.py): a workflow belongs to the project it was started
for (`project_id` in the POST body); a caller the API's access map does not give that project is answered 403, on
the start and on every route of the workflow, before anything is done (an unknown project: 404). Without an access
map (one tenant) every caller may use every project.

Errors are the API's `{"error": {"code", "message", ...}}`: 400 for a body that is not JSON, a bad field (named) or a
malformed id, 403 across projects, 404 for an unknown workflow, 409 for a request the workflow's state refuses. Thin:
parse, check the project, call the engine (runtime/onboarding/workflows/engine.py), map the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.errors import ErrorCode, ErrorResponse

_ULID = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class StartWorkflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^(onboarding|provisioning)$")
    input: dict[str, Any]
    project_id: str = Field(default="", max_length=128)  # "": none (only a caller allowed every project may)
    slack_channel: str | None = Field(default=None, pattern=r"^[CGD][A-Z0-9]{2,20}$")


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved: bool = True
    by: str = Field(default="", max_length=128)


def _reply(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, default=str))


def _error(status: int, message: str, *, workflow_id: str | None = None) -> Response:
    code = {403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND}.get(status, ErrorCode.INVALID_REQUEST)
    body = ErrorResponse.of(code, message, None, None).model_dump(mode="json")
    if workflow_id:
        body["error"]["workflow_id"] = workflow_id
    return _reply(status, body)


def _problems(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def register_routes(app: APIGatewayHttpResolver, engine: Callable[[], Any],
                    api: Callable[[], Any] | None = None) -> None:
    """Add the /workflows routes to the API's resolver; `engine()` gives the WorkflowEngine (built on first use),
    `api()` the API's `ApiService`, whose access map and projects decide which caller may use which workflow."""
    from runtime.errors import AidlcError
    from runtime.onboarding.workflows.engine import WorkflowError

    def refused(project_id: str, what: str, *, exists: bool = False) -> Response | None:
        """403 when this caller may not use the project (or, for a new workflow, 404 when it is not there)."""
        service = api() if api is not None else None
        if service is None:
            return None
        try:
            if exists:
                service._project(project_id)  # 403 before the look-up, then 404 (the invocations' own check)
            elif not service._may_use(project_id):
                raise service._forbidden(project_id, what)
        except AidlcError as exc:
            return _error(403 if exc.code == ErrorCode.FORBIDDEN else 404, exc.message)
        return None

    def body(model: type[BaseModel], *, optional: bool = False) -> BaseModel | Response:
        from runtime.handlers.api import _raw_body
        from runtime.pipeline.input_limits import InputRejected, load_json

        try:
            raw = _raw_body(app.current_event)
            payload = load_json(raw) if raw.strip() or not optional else {}
        except InputRejected as exc:
            return _error(400, exc.message)
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            return _error(400, f"invalid request: {_problems(exc)}")

    def checked_id(workflow_id: str) -> Response | None:
        import re

        if not re.fullmatch(_ULID, workflow_id):
            return _error(400, f"workflow id {workflow_id[:64]!r} is not a ULID (26 characters of Crockford base32)")
        return None

    def answer(call: Callable[[], Any], status: int, workflow_id: str) -> Response:
        """The workflow's project checked (404 unknown, 403 another tenant's), then `call`."""
        try:
            found = engine().status(workflow_id)
        except WorkflowError as exc:
            return _error(exc.status, exc.message, workflow_id=workflow_id)
        denied = refused(found.project_id, f"workflow {workflow_id!r}")
        if denied is not None:
            return denied
        try:
            record = call()
        except WorkflowError as exc:
            return _error(exc.status if exc.status < 500 else 409, exc.message, workflow_id=workflow_id)
        return _reply(status, record.view())

    @app.post("/workflows")
    def start_workflow():
        parsed = body(StartWorkflow)
        if isinstance(parsed, Response):
            return parsed
        denied = refused(parsed.project_id, "this workflow", exists=bool(parsed.project_id))
        if denied is not None:
            return denied
        thread = {"channel": parsed.slack_channel} if parsed.slack_channel else None
        try:
            record = engine().start(parsed.kind, parsed.input, thread=thread, project_id=parsed.project_id)
        except ValidationError as exc:
            return _error(400, f"invalid workflow input: {_problems(exc, 'input.')}")
        except WorkflowError as exc:
            return _error(exc.status if exc.status < 500 else 409, exc.message)
        return _reply(202, record.view())

    @app.get("/workflows/<workflow_id>")
    def get_workflow(workflow_id: str):
        return checked_id(workflow_id) or answer(lambda: engine().status(workflow_id), 200, workflow_id)

    @app.post("/workflows/<workflow_id>/resume")
    def resume_workflow(workflow_id: str):
        return checked_id(workflow_id) or answer(lambda: engine().resume(workflow_id), 202, workflow_id)

    @app.post("/workflows/<workflow_id>/cancel")
    def cancel_workflow(workflow_id: str):
        return checked_id(workflow_id) or answer(lambda: engine().cancel(workflow_id), 200, workflow_id)

    @app.post("/workflows/<workflow_id>/approve")
    def approve_workflow(workflow_id: str):
        bad = checked_id(workflow_id)
        if bad:
            return bad
        parsed = body(Approve, optional=True)
        if isinstance(parsed, Response):
            return parsed
        from runtime.pipeline.api import CALLER

        by = parsed.by or CALLER.get() or ""  # the audit trail names who decided: the IAM caller unless told
        return answer(lambda: engine().approve(workflow_id, approved=parsed.approved, by=by), 202, workflow_id)


def engine_for(services: Any) -> Any:
    """The function's workflow engine: the one the local stack gave its services, else the environment's."""
    found = getattr(services, "workflows", None)
    if found is not None:
        return found
    from runtime.onboarding.workflows.wiring import engine_from_env

    return engine_from_env()
