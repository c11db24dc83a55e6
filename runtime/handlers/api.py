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
import threading
import weakref
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from runtime.errors import AidlcError, ErrorCode, ErrorResponse
from runtime.handlers._common import error_reply

logger = Logger(service="aidlc-api")

MAX_BODY_BYTES = 256 * 1024
_STATUS_FOR = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.BUDGET_EXCEEDED: 402,
}


def _error(status: int, code: ErrorCode, message: str, invocation_id: str | None = None,
           remediation: str | None = None) -> Response:
    body = ErrorResponse.of(code, message, invocation_id, remediation).model_dump(mode="json")
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def create_app(service: Any) -> APIGatewayHttpResolver:
    """The internal API's resolver over one `ApiService`. A resolver holds the event it is resolving, so each
    function instance (one per local stack; one per Lambda container) has its own, used by one event at a time."""
    app = APIGatewayHttpResolver(enable_validation=True)

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

        from runtime.pipeline.input_limits import InputRejected, load_json

        try:  # bounded: depth, integer size, valid Unicode (json.loads alone raised RecursionError: a 500)
            payload = load_json(_raw_body(app.current_event))
        except InputRejected as exc:
            return _error(exc.status, exc.code, exc.message)
        try:
            request = InvokeRequest.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
            return _error(422, ErrorCode.INVALID_REQUEST, f"invalid request: {problems}")
        result = service.invoke(request)
        logger.set_correlation_id(result["invocation_id"])
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=json.dumps(result))

    @app.get("/invocation/<invocation_id>")
    def get_invocation(invocation_id: str) -> dict[str, Any]:
        logger.set_correlation_id(invocation_id)
        return service.get(invocation_id).model_dump(mode="json")

    @app.post("/invocation/<invocation_id>/cancel")
    def cancel_invocation(invocation_id: str) -> dict[str, Any]:
        logger.set_correlation_id(invocation_id)
        return service.cancel(invocation_id).model_dump(mode="json")

    @app.get("/project/<project_id>/invocations")
    def list_invocations(
        project_id: str,
        status: Annotated[str | None, Query(pattern="^(queued|running|completed|failed|cancelled)$")] = None,
        agent_type: Annotated[str | None, Query(pattern="^[a-z][a-z0-9_]{0,47}$")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        next_token: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> dict[str, Any]:
        return service.list(project_id, status=status, agent_type=agent_type, limit=limit, next_token=next_token)

    @app.get("/project/<project_id>/cost-summary")
    def cost_summary(project_id: str) -> dict[str, Any]:
        return service.cost_summary(project_id)

    return app


def _raw_body(event: Any) -> bytes:
    """The request body's bytes (API Gateway base64-encodes binary bodies), never an exception."""
    import base64
    import binascii

    from runtime.pipeline.input_limits import InputRejected

    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InputRejected(400, "body is not valid base64") from None


# services -> (its resolver, the lock that gives it one event at a time, as a Lambda container has)
_apps: "weakref.WeakKeyDictionary[Any, tuple[APIGatewayHttpResolver, threading.Lock]]" = weakref.WeakKeyDictionary()
_apps_lock = threading.Lock()


def _app_for(services: Any) -> tuple[APIGatewayHttpResolver, threading.Lock]:
    with _apps_lock:
        found = _apps.get(services)
        if found is None:
            app = create_app(services.api)
            from runtime.handlers.workflows import engine_for, register_routes

            # /workflows (runtime/handlers/workflows.py), under the same project access map as the routes above
            register_routes(app, lambda: engine_for(services), lambda: services.api)
            found = _apps[services] = (app, threading.Lock())
        return found


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point; `services`: this function's (the local stack, tests), else the environment's."""
    from runtime.pipeline.services import get_services

    services = services or get_services()
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {size} bytes; the limit is 256 KiB")
    if services.settings.require_iam_auth:
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if not authorizer.get("iam"):
            return error_reply(401, ErrorCode.INVALID_REQUEST, "the internal API needs an IAM-signed request")
    from runtime.pipeline.api import CALLER

    # The caller's IAM identity, as API Gateway's IAM authorizer gives it: what the project access map is keyed by.
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    token = CALLER.set(iam.get("userArn") or iam.get("callerId") or None)
    app, lock = _app_for(services)
    try:
        with lock:
            return app.resolve(event, context)
    finally:
        CALLER.reset(token)
