"""The local front door: what API Gateway and CloudFront are in AWS, plus the dashboard.

- `POST /webhook/notion` and the internal API routes become API Gateway HTTP API events for the same handler
  functions Lambda runs;
- `/prototypes/{key}` serves objects from the (emulated) prototype bucket, as CloudFront does;
- `/` is the dashboard, `/dev/...` its JSON and the local stand-ins' views (PR records, Notion pages).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from runtime import resources
from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

@dataclass
class GatewayBackends:
    """What the gateway calls; the local stack fills it in."""

    handlers: dict[str, Callable[[dict, Any], dict]]  # function logical name -> its handler (runtime/resources.py ROUTES)
    read_prototype: Callable[[str], tuple[bytes, str] | None]  # key -> (body, content type)
    dev_info: Callable[[], dict]
    dashboard_state: Callable[[], dict]
    set_story_status: Callable[[str, str], None]  # page id, status (acts as a person)
    pull_request_view: Callable[[int], dict | None]
    notion_page_view: Callable[[str], dict | None]  # {title, markdown}
    invocation_steps: Callable[[str], list[dict]] = lambda invocation_id: []  # a run's tool calls (the audit trail)
    # (number, body, path, line) -> {comment, delivery, status}: a person's review comment, delivered as GitHub would
    review_pull_request: Callable[..., dict] | None = None


async def _lambda_response(request: Request, handler: Callable, function_name: str, route_key: str,
                           params: dict[str, str]) -> Response:
    body = await request.body()
    event = http_api_event(
        request.method,
        request.url.path,
        headers=dict(request.headers),
        body=body,
        query=request.url.query,
        route_key=route_key,
        path_parameters=params,
        source_ip=request.client.host if request.client else "127.0.0.1",
    )
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(handler, event, LocalLambdaContext(function_name=function_name))
    return _to_response(result)


def _to_response(result: Any) -> Response:
    """API Gateway's payload 2.0 response mapping: a dict with statusCode, or any JSON as a 200."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return JSONResponse(result)
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body)
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(values)
    return Response(content=body, status_code=int(result["statusCode"]), headers=headers)


def loopback_hosts(port: int, host: str = "127.0.0.1") -> frozenset[str]:
    """The `Host` values the front door on `port` answers for: its loopback names (and the interface it was told to
    listen on, if that is another)."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    return frozenset(f"{name}:{port}" for name in names)


class SameHostOnly:
    """ASGI middleware: answer only requests addressed to this front door, and only from its own pages.

    A web page on another site can make the browser send requests here (DNS rebinding: its name re-pointed at
    127.0.0.1), and `/dev/info` holds the local tokens. A rebound request still carries the page's own name in `Host`
    (421), and a cross-site request its `Origin` (403). Starlette's TrustedHostMiddleware checks only `Host`, with a
    400, hence this one. Requests without an `Origin` (the Notion and Slack emulators, curl) pass.
    """

    def __init__(self, app: Any, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = frozenset(f"http://{host}" for host in allowed_hosts)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
            host = headers.get("host", "").lower()
            origin = headers.get("origin")
            refusal = None
            if host not in self.allowed_hosts:
                refusal = (421, f"this is the aidlc local front door for {', '.join(sorted(self.allowed_hosts))}; "
                                f"it does not answer for Host {host!r}")
            elif origin is not None and origin.lower() not in self.allowed_origins:
                refusal = (403, f"requests from pages on {origin!r} are refused; open the dashboard at "
                                f"http://{host}/ instead")
            if refusal is not None:
                await PlainTextResponse(refusal[1], status_code=refusal[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_gateway_app(backends: GatewayBackends, allowed_hosts: frozenset[str] | None = None) -> Starlette:
    """The front door; `allowed_hosts` (see `loopback_hosts`): the `Host` values it answers for (None: any)."""
    async def function_route(request: Request) -> Response:
        """A declared route (runtime/resources.py ROUTES), to the handler of the function that serves it."""
        path = request.url.path
        found = resources.match_route(request.method, path)
        if found and found[0].function in backends.handlers:
            route, params = found
            return await _lambda_response(request, backends.handlers[route.function], route.function, route.key, params)
        return JSONResponse(
            {"error": {"code": "NOT_FOUND", "message": f"no route {request.method} {path}", "invocation_id": None,
                       "remediation": "See the internal API routes in the README."}},
            status_code=404,
        )

    async def prototype(request: Request) -> Response:
        key = request.path_params["key"]
        if key.endswith("/") or "." not in key.rsplit("/", 1)[-1]:
            key = key.rstrip("/") + "/index.html"
        from starlette.concurrency import run_in_threadpool

        found = await run_in_threadpool(backends.read_prototype, key)
        if found is None:
            return PlainTextResponse(f"no prototype object {key!r} (it may have expired)", status_code=404)
        body, content_type = found
        return Response(body, media_type=content_type)

    async def dashboard(request: Request) -> Response:
        page = package_files.files("runtime.local").joinpath("static/dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(page)

    async def dev_info(request: Request) -> Response:
        return JSONResponse(backends.dev_info())

    async def state(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(backends.dashboard_state))

    async def story_status(request: Request) -> Response:
        try:
            status = (await request.json())["status"]
            assert isinstance(status, str) and status
        except Exception:
            return JSONResponse({"error": 'send {"status": "<a Status value>"}'}, status_code=400)
        from starlette.concurrency import run_in_threadpool

        try:
            await run_in_threadpool(backends.set_story_status, request.path_params["page_id"], status)
        except Exception as exc:  # the emulator's validation message is the useful part
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"page_id": request.path_params["page_id"], "status": status})

    async def steps(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        return JSONResponse({"steps": await run_in_threadpool(backends.invocation_steps,
                                                              request.path_params["invocation_id"])})

    async def pull_request(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        record = await run_in_threadpool(backends.pull_request_view, int(request.path_params["number"]))
        if record is None:
            return PlainTextResponse("no such pull request", status_code=404)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(record)
        number = int(record.get("number") or 0)
        comments = "".join(
            f"<li><b>{html.escape(str((c.get('user') or {}).get('login') or 'aidlc'))}</b>"
            f"{' on ' + html.escape(str(c['path'])) if c.get('path') else ''}: "
            f"<pre style='white-space:pre-wrap'>{html.escape(str(c.get('body', '')))}</pre></li>"
            for c in [*record.get("comments", []), *record.get("review_comments", [])])
        # Review as a person: the local remote delivers it to the GitHub webhook, signed, as GitHub would.
        review_form = (
            "<h2>Review</h2><form id='review'><textarea name='body' rows='3' cols='80' required></textarea><br>"
            "<button>Add review comment</button> <span id='review-status'></span></form><script>"
            "document.getElementById('review').onsubmit = async (event) => { event.preventDefault();"
            f" const r = await fetch('/dev/git/pr/{number}/review', {{method: 'POST',"
            " headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({body: event.target.body.value})});"
            " document.getElementById('review-status').textContent = r.ok ? 'sent: the code agent will follow up'"
            " : 'refused: ' + (await r.text()); };</script>")
        return HTMLResponse(
            f"<!doctype html><title>PR #{record.get('number')}</title><h1>PR #{record.get('number')}: "
            f"{html.escape(str(record.get('title', '')))}</h1><p>{html.escape(str(record.get('branch', '')))} &rarr; "
            f"{html.escape(str(record.get('base', '')))}</p><pre>{html.escape(str(record.get('body', '')))}</pre>"
            f"<h2>Diff</h2><pre>{html.escape(str(record.get('diff', '')))}</pre>"
            f"<h2>Comments</h2><ul>{comments or '<li>none yet</li>'}</ul>{review_form}"
        )

    async def review(request: Request) -> Response:
        """`POST /dev/git/pr/<n>/review` {"body", "path"?, "line"?}: review the local remote's PR as a person."""
        from starlette.concurrency import run_in_threadpool

        try:
            payload = await request.json()
            assert isinstance(payload, dict) and isinstance(payload.get("body"), str) and payload["body"].strip()
        except Exception:
            return JSONResponse({"error": 'send {"body": "<the review comment>", "path"?: ..., "line"?: ...}'},
                                status_code=400)
        if backends.review_pull_request is None:
            return JSONResponse({"error": "this gateway has no local git remote"}, status_code=404)
        try:
            result = await run_in_threadpool(backends.review_pull_request, int(request.path_params["number"]),
                                             payload["body"], payload.get("path"), payload.get("line"))
        except Exception as exc:  # no such PR, an empty comment: the backend's message says which
            return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 400))
        return JSONResponse(result)

    async def notion_page(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        page = await run_in_threadpool(backends.notion_page_view, request.path_params["page_id"])
        if page is None:
            return PlainTextResponse("no such page", status_code=404)
        return HTMLResponse(
            f"<!doctype html><title>{html.escape(page['title'])}</title><h1>{html.escape(page['title'])}</h1>"
            f"<pre style='white-space:pre-wrap'>{html.escape(page['markdown'])}</pre>"
        )

    # Each declared route's path, with its parameters as Starlette path parameters; the handler re-matches it.
    declared = {route.path: set() for route in resources.ROUTES}
    for route in resources.ROUTES:
        declared[route.path].add(route.method)
    routes = [
        Route("/", dashboard),
        Route("/prototypes/{key:path}", prototype, methods=["GET", "HEAD"]),
        Route("/dev/info", dev_info),
        Route("/dev/api/state", state),
        Route("/dev/api/stories/{page_id}/status", story_status, methods=["POST"]),
        Route("/dev/api/invocations/{invocation_id}/steps", steps),
        Route("/dev/git/pr/{number:int}", pull_request),
        Route("/dev/git/pr/{number:int}/review", review, methods=["POST"]),
        Route("/dev/notion/{page_id}", notion_page),
        *(Route(path, function_route, methods=sorted(methods)) for path, methods in declared.items()),
    ]
    from starlette.middleware import Middleware

    middleware = [Middleware(SameHostOnly, allowed_hosts=allowed_hosts)] if allowed_hosts is not None else []
    return Starlette(routes=routes, middleware=middleware)


