"""Values made on first use, never at import or construction (a Lambda container builds only what its handler
needs, once), unless one was given instead (the local stack, tests): the adapters' clients and the process's
services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class given_or_built:
    """A method turned into an attribute, like `functools.cached_property`, except that a value the constructor was
    given wins: the attribute `name` reads `self._name`, and only while that is None (or unset) calls the method
    and keeps what it returns there.

        class SqsTaskQueue:
            def __init__(self, queue_url: str, client: Any | None = None) -> None:
                self._client = client

            @given_or_built
            def client(self) -> Any:
                return aws.client("sqs")
    """

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.slot = f"_{build.__name__}"

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = getattr(instance, self.slot, None)
        if value is None:
            value = self.build(instance)
            setattr(instance, self.slot, value)
        return value


class OnePerProcess(Generic[T]):
    """One value for the whole process, built by `build` on the first `get()` (thread-safe), or the one `set()`
    put there (the local stack, tests; None: build again on the next `get()`)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value

    def set(self, value: T | None) -> None:
        with self._lock:
            self._value = value


__all__ = ["OnePerProcess", "given_or_built"]
