"""The internal API on the HTTP API (IAM auth in AWS):

    POST /invoke                         start an agent on a story          202
    GET  /invocation/{id}                the record (seed 2.1 field names)   200 / 404
    POST /invocation/{id}/cancel         stop it, release its reservation   200 / 404 / 409
    GET  /project/{id}/invocations       newest first; ?status= &agent_type= &limit= &next_token=
    GET  /project/{id}/cost-summary      month to date, by agent, limit, remaining, share used

Errors: `{"error": {"code", "message", "invocation_id", "remediation"}}`; 400 malformed JSON, 401 no IAM
identity (when required), 404 unknown ids, 409 cancel of a finished run, 413 over 256 KiB, 422 invalid fields.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from runtime.errors import AidlcError, ErrorCode, ErrorResponse
from runtime.handlers._common import error_reply

logger = Logger(service="aidlc-api")
app = APIGatewayHttpResolver(enable_validation=True)

MAX_BODY_BYTES = 256 * 1024
_STATUS_FOR = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.BUDGET_EXCEEDED: 402,
}


def _error(status: int, code: ErrorCode, message: str, invocation_id: str | None = None,
           remediation: str | None = None) -> Response:
    body = ErrorResponse.of(code, message, invocation_id, remediation).model_dump(mode="json")
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _service():
    from runtime.pipeline.services import get_services

    return get_services().api


@app.exception_handler(AidlcError)
def _aidlc_error(exc: AidlcError) -> Response:
    status = _STATUS_FOR.get(exc.code, 400)
    if exc.code == ErrorCode.INVALID_REQUEST and "already" in exc.message:
        status = 409  # a cancel of a run that already finished: the request is fine, the state isn't
    return _error(status, exc.code, exc.message, exc.invocation_id, exc.remediation)


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: {e.get('msg')}"
        for e in exc.errors()
    )
    return _error(422, ErrorCode.INVALID_REQUEST, f"invalid request: {problems}")


@app.not_found
def _not_found(exc: Exception) -> Response:
    return _error(404, ErrorCode.NOT_FOUND, f"no route {app.current_event.http_method} {app.current_event.path}")


@app.post("/invoke")
def invoke():  # no return annotation: the validator would try to build a schema for Response
    from runtime.pipeline.api import InvokeRequest

    try:
        payload = json.loads(app.current_event.decoded_body or "")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, ErrorCode.INVALID_REQUEST, f"body is not valid JSON: {exc}")
    try:
        request = InvokeRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(422, ErrorCode.INVALID_REQUEST, f"invalid request: {problems}")
    result = _service().invoke(request)
    logger.set_correlation_id(result["invocation_id"])
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=json.dumps(result))


@app.get("/invocation/<invocation_id>")
def get_invocation(invocation_id: str) -> dict[str, Any]:
    logger.set_correlation_id(invocation_id)
    return _service().get(invocation_id).model_dump(mode="json")


@app.post("/invocation/<invocation_id>/cancel")
def cancel_invocation(invocation_id: str) -> dict[str, Any]:
    logger.set_correlation_id(invocation_id)
    return _service().cancel(invocation_id).model_dump(mode="json")


@app.get("/project/<project_id>/invocations")
def list_invocations(
    project_id: str,
    status: Annotated[str | None, Query(pattern="^(queued|running|completed|failed|cancelled)$")] = None,
    agent_type: Annotated[str | None, Query(pattern="^[a-z][a-z0-9_]{0,47}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    return _service().list(project_id, status=status, agent_type=agent_type, limit=limit, next_token=next_token)


@app.get("/project/<project_id>/cost-summary")
def cost_summary(project_id: str) -> dict[str, Any]:
    return _service().cost_summary(project_id)


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from runtime.pipeline.services import get_services

    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {size} bytes; the limit is 256 KiB")
    if get_services().settings.require_iam_auth:
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if not authorizer.get("iam"):
            return error_reply(401, ErrorCode.INVALID_REQUEST, "the internal API needs an IAM-signed request")
    return app.resolve(event, context)
