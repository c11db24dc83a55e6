"""The onboarding workflows on the internal API (IAM auth, served by the API function; runtime/resources.py ROUTES):

    POST /workflows                  {"kind": "onboarding"|"provisioning", "input": {...}, "slack_channel"?}  202
    GET  /workflows/{id}             the state, its checkpoints, whether it waits for an approval           200 / 404
    POST /workflows/{id}/resume      a failed workflow again from its last good checkpoint                  202 / 404 / 409
    POST /workflows/{id}/cancel      stop at the next step boundary (CANCELLED recorded there)             200 / 404 / 409
    POST /workflows/{id}/approve     {"approved"?: true, "by"?: "..."}: the change-set approval            202 / 404 / 409

Errors are the API's `{"error": {"code", "message", ...}}`: 400 for a body that is not JSON, a bad field (named) or a
malformed id, 404 for an unknown workflow, 409 for a request the workflow's state refuses. Thin: parse, call the
engine (runtime/onboarding/workflows/engine.py), map the result.
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
    slack_channel: str | None = Field(default=None, pattern=r"^[CGD][A-Z0-9]{2,20}$")


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved: bool = True
    by: str = Field(default="", max_length=128)


def _reply(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, default=str))


def _error(status: int, message: str, *, workflow_id: str | None = None) -> Response:
    code = {404: ErrorCode.NOT_FOUND, 409: ErrorCode.INVALID_REQUEST}.get(status, ErrorCode.INVALID_REQUEST)
    body = ErrorResponse.of(code, message, None, None).model_dump(mode="json")
    if workflow_id:
        body["error"]["workflow_id"] = workflow_id
    return _reply(status, body)


def _problems(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def register_routes(app: APIGatewayHttpResolver, engine: Callable[[], Any]) -> None:
    """Add the /workflows routes to the API's resolver; `engine()` gives the WorkflowEngine (built on first use)."""
    from runtime.onboarding.workflows.engine import WorkflowError

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

    def answer(call: Callable[[], Any], status: int, workflow_id: str | None = None) -> Response:
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
        thread = {"channel": parsed.slack_channel} if parsed.slack_channel else None
        try:
            record = engine().start(parsed.kind, parsed.input, thread=thread)
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
        return answer(lambda: engine().approve(workflow_id, approved=parsed.approved, by=parsed.by), 202, workflow_id)


def engine_for(services: Any) -> Any:
    """The function's workflow engine: the one the local stack gave its services, else the environment's."""
    found = getattr(services, "workflows", None)
    if found is not None:
        return found
    from runtime.onboarding.workflows.wiring import engine_from_env

    return engine_from_env()
