"""Serve any ASGI app on loopback in a background thread (uvicorn), for the local stack, tests and benchmarks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class ServerHandle:
    """A running server: `base_url` is http://host:port (no trailing slash); `stop()` shuts it down."""

    host: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop within `timeout`: uvicorn waits for open requests (an agent's long run, a held-open connection) up
        to its graceful-shutdown timeout, then is forced."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(1.0)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 15.0) -> ServerHandle:
    """Start `app` with uvicorn in a daemon thread and return once it accepts connections.

    port=0 lets the OS pick a free port; the chosen one is on the handle.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="auto",
                            timeout_graceful_shutdown=2)  # see ServerHandle.stop
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server on {host}:{port} exited during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"server on {host}:{port} did not start within {startup_timeout}s")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    return ServerHandle(host=host, port=bound_port, _server=server, _thread=thread)
