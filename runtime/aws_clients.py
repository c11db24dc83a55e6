"""boto3 clients for one principal (a Lambda function, an agent runtime, the tool gateway).

Each principal has one boto3 session, tagged with the principal: a `CallRecorder` attached to it
(runtime/observe/calls.py) sees every call its clients make. Clients are created on first use and cached per
(service, region, config); nothing is created at import or construction. In AWS a function's principal is its own
role and nothing is recorded; locally and in tests every principal is told apart, so the IAM coverage check can ask
"would this function's role allow this call".
"""

from __future__ import annotations

import threading
from typing import Any

from runtime.lazy import OnePerProcess


class AwsClients:
    def __init__(
        self,
        principal: str = "process",
        *,
        recorder: Any | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """`endpoint_url`, `region` and `credentials` (access key, secret key) are for a local AWS (moto); unset,
        botocore finds them as it always does (Lambda's environment and role, AWS_ENDPOINT_URL)."""
        self.principal = principal
        self.recorder = recorder
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials
        self._session: Any = None
        self._clients: dict[tuple, Any] = {}
        # A boto3 session is not safe to create clients from in several threads at once; creation is serialised.
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> Any:
        if self._session is None:
            session = self._new_session()
            if self.recorder is not None:
                self.recorder.attach(session, self.principal)
            self._session = session
        return self._session

    def _new_session(self) -> Any:
        """The principal's boto3 session (called once, under the lock); a subclass whose credentials are not a static
        key pair (an assumed role) overrides only this."""
        import boto3

        key, secret = self.credentials or (None, None)
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=self.region)

    def client(self, service: str, region: str | None = None, *, config: Any | None = None) -> Any:
        """The cached client for `service` (`config`: a botocore `Config`, part of the cache key)."""
        key = (service, region, id(config) if config is not None else None)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._session_locked().client(
                    service, region_name=region or self.region, endpoint_url=self.endpoint_url, config=config)
                self._clients[key] = found
            return found

    def reset(self) -> None:
        """Forget the session and clients (tests that start a new moto backend)."""
        with self._lock:
            self._session = None
            self._clients.clear()


_default: OnePerProcess[AwsClients] = OnePerProcess(AwsClients)


def default_clients() -> AwsClients:
    """The process's clients, for code that is not given any (a Lambda container runs one function)."""
    return _default.get()


__all__ = ["AwsClients", "default_clients"]
