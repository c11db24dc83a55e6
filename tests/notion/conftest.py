"""The Notion side, end to end on loopback: the real adapter (notion-client) against the local workspace emulator."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.local.notion_emulator import NotionEmulator
from runtime.local.server import serve
from runtime.notion.adapter import NotionAdapter
from runtime.notion.schema import workspace_schema
from runtime.notion.throttle import Throttle

# Byte-exact copies of the project's shared Notion wire samples (../shared/fixtures/notion), so a clean clone tests.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def agent_registry():
    """The built-in plugins, loaded once (the root conftest resets the cached registry before every test)."""
    from runtime.registry import load_registry

    return load_registry()


@pytest.fixture
def emulator(tmp_path):
    return NotionEmulator(tmp_path / "notion")


@pytest.fixture
def seed(emulator, agent_registry):
    return emulator.seed_workspace(workspace_schema(agent_registry))


@pytest.fixture
def notion_server(emulator):
    handle = serve(emulator.app)
    yield handle
    handle.stop()


def make_adapter(emulator: NotionEmulator, server, *, user: bool = False, **kwargs) -> NotionAdapter:
    token = emulator.user_token if user else emulator.integration_token
    kwargs.setdefault("throttle", Throttle.unlimited())  # the emulator here has no rate limit; see the 429 tests
    kwargs.setdefault("backoff_initial_seconds", 0.01)
    return NotionAdapter(token, base_url=server.base_url, **kwargs)


@pytest.fixture
def notion(emulator, notion_server, seed):
    adapter = make_adapter(emulator, notion_server)
    yield adapter
    adapter.close()


@pytest.fixture
def user_notion(emulator, notion_server, seed):
    adapter = make_adapter(emulator, notion_server, user=True)
    yield adapter
    adapter.close()


@dataclass
class Receiver:
    """A webhook endpoint on loopback that keeps every request's raw body and headers."""

    requests: list[dict] = field(default_factory=list)
    url: str = ""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def events(self, event_type: str | None = None) -> list[dict]:
        return [b for b in self.bodies() if "type" in b and (event_type is None or b["type"] == event_type)]


@pytest.fixture
def receiver():
    received = Receiver()

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        with received.arrived:
            received.requests.append({"body": body, "headers": dict(request.headers)})
            received.arrived.notify_all()
        return JSONResponse({"ok": True})

    handle = serve(Starlette(routes=[Route("/webhook", endpoint, methods=["POST"])]))
    received.url = f"{handle.base_url}/webhook"
    yield received
    handle.stop()
