"""A small synchronous MCP client for the tools endpoint (tests, benchmarks, the CLI): one session kept open.

It is mcp's own client (`streamable_http_client` + `ClientSession`) on an event loop in a background thread, so
synchronous code can call tools the way an agent does, with its tool token (runtime/tools/identity.py) and
identity headers.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import AsyncExitStack
from typing import Any

from runtime.tools.mcp_server import AGENT_HEADER, INVOCATION_HEADER, TOKEN_HEADER


class MCPToolError(Exception):
    """The tool answered with isError; `payload` is its error object."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("error") or json.dumps(payload))
        self.payload = payload


class MCPToolClient:
    def __init__(self, url: str, *, token: str | None = None, agent: str | None = None,
                 invocation_id: str | None = None, timeout: float = 60.0) -> None:
        """`token`: the caller's tool token (the server refuses every call without one); `agent`/`invocation_id`:
        the identity headers, which the server checks against the token."""
        self.url = url
        self.headers = {k: v for k, v in ((TOKEN_HEADER, token), (AGENT_HEADER, agent),
                                          (INVOCATION_HEADER, invocation_id)) if v}
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aidlc-mcp-client", daemon=True)
        self._thread.start()
        self._stack: AsyncExitStack | None = None
        self._session: Any = None
        try:
            self._run(self._open())
        except BaseException:
            self.close()
            raise

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    async def _open(self) -> None:
        import httpx2
        from mcp.client.session import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        self._stack = AsyncExitStack()
        http = await self._stack.enter_async_context(httpx2.AsyncClient(headers=self.headers, timeout=self.timeout))
        streams = await self._stack.enter_async_context(streamable_http_client(self.url, http_client=http))
        self._session = await self._stack.enter_async_context(ClientSession(streams[0], streams[1]))
        await self._session.initialize()

    def list_tools(self) -> list[Any]:
        return list(self._run(self._session.list_tools()).tools)

    def call_raw(self, name: str, arguments: dict[str, Any]) -> Any:
        return self._run(self._session.call_tool(name, arguments))

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's result object; raises `MCPToolError` when the tool answered with an error."""
        result = self.call_raw(name, arguments)
        payload = result.structured_content
        if payload is None:
            payload = json.loads(result.content[0].text) if result.content else {}
        if result.is_error:
            raise MCPToolError(payload)
        return payload

    def close(self) -> None:
        if self._stack is not None:
            try:
                self._run(self._stack.aclose())
            except Exception:  # closing a session whose server is gone already is not an error worth raising
                pass
            self._stack = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> "MCPToolClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
