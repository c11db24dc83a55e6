"""The content sync function (`runtime.kb.sync`): the three routes of seed 3.3 and the kb-sync queue.

    POST /sync/page      {"page_id", "project_id"?}                          202 {job_id, status, status_url}
    POST /sync/database  {"data_source_id" | "database_id", "project_id"?}   202
    GET  /sync/status/{job_id}                                               200 the job / 404
    SQS kb-sync          run each job; a failed one is retried alone (partial batch response)

Errors: `{"error": {"code", "message", "remediation"}}`; 400 malformed JSON, 401 no IAM identity (when required),
404 unknown route or job, 413 over 256 KiB, 422 invalid fields (the field is named), as the internal API answers.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Logger

from runtime.errors import ErrorCode
from runtime.handlers._common import error_reply, json_reply

logger = Logger(service="aidlc-sync")
MAX_BODY_BYTES = 256 * 1024


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any, services: Any = None) -> dict[str, Any]:
    """Lambda's entry point, for API Gateway (payload 2.0) and SQS events; `services`: this function's
    (`runtime.kb.services.KbServices`: the local stack, tests), else the environment's."""
    from runtime.kb.services import get_kb_services

    services = services or get_kb_services()
    if "Records" in event:
        return _queue(event, context, services)
    return _http(event, services)


def _queue(event: dict[str, Any], context: Any, services: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from pydantic import ValidationError

    from runtime.kb.sync import NotFound, SyncMessage

    def record_handler(record: Any) -> dict[str, Any]:
        try:
            message = SyncMessage.model_validate_json(record.body)
        except ValidationError:
            logger.error("dropping a kb-sync message that is not a sync message")  # retrying cannot fix it
            return {"dropped": True}
        try:
            job = services.sync.run_message(message)
        except NotFound:
            return {"dropped": True}
        logger.info("sync job ran", extra={"job_id": job.job_id, "status": job.status,
                                           "ingested": job.pages_ingested, "skipped": job.pages_skipped})
        return {"job_id": job.job_id, "status": job.status}

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)


def _http(event: dict[str, Any], services: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    from runtime.kb.sync import DatabaseSyncRequest, NotFound, PageSyncRequest
    from runtime.pipeline.input_limits import InputRejected, load_json
    from runtime.resources import ROUTES, match_route

    http = (event.get("requestContext") or {}).get("http") or {}
    method, path = http.get("method") or "", event.get("rawPath") or http.get("path") or ""
    found = match_route(method, path, tuple(r for r in ROUTES if r.function == "sync"))
    if found is None:
        return error_reply(404, ErrorCode.NOT_FOUND, f"no route {method} {path}")
    route, params = found
    if services.settings.require_iam_auth and not ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam"):
        return error_reply(401, ErrorCode.INVALID_REQUEST, "the sync API needs an IAM-signed request")
    if route.method == "GET":
        try:
            job = services.sync.status(params["job_id"])
        except NotFound:
            return error_reply(404, ErrorCode.NOT_FOUND, f"no sync job {params['job_id']!r}")
        return json_reply(200, job.model_dump(mode="json"))

    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return error_reply(400, ErrorCode.INVALID_REQUEST, "body is not valid base64")
    else:
        body = raw.encode("utf-8", "surrogatepass")
    if len(body) > MAX_BODY_BYTES:
        return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {len(body)} bytes; the limit is 256 KiB")
    try:
        payload = load_json(body)
    except InputRejected as exc:
        return error_reply(exc.status, exc.code, exc.message)
    model = PageSyncRequest if route.path == "/sync/page" else DatabaseSyncRequest
    try:
        request = model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        return error_reply(422, ErrorCode.INVALID_REQUEST, f"invalid request: {problems}")
    job = (services.sync.request_page(request) if isinstance(request, PageSyncRequest)
           else services.sync.request_database(request))
    logger.info("sync job queued", extra={"job_id": job.job_id, "kind": job.kind, "target": job.target_id})
    return json_reply(202, {"job_id": job.job_id, "status": job.status, "kind": job.kind,
                            "target_id": job.target_id, "status_url": f"/sync/status/{job.job_id}"})
