"""Notion's request contract, written by Notion rather than by us: the official SDK's TypeScript types as JSON Schema
(vendored beside this file with the SDK version in `manifest.json`; `generate.mjs` regenerates them), plus the
documented limits the types do not carry (`runtime.notion.limits`).

Both sides of every Notion exchange in the tests are held to it: the adapter's outgoing requests (an httpx request
hook, see `RequestChecker`) and the local emulator, which answers 400 `validation_error` to anything the contract
refuses, as Notion does, so the two can never again agree on something Notion would reject.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from runtime.notion import limits

__all__ = ["Contract", "Endpoint", "RequestChecker", "contract"]


@dataclass(frozen=True)
class Endpoint:
    """One SDK endpoint descriptor (`createPage`, `appendBlockChildren`...) and the types of its parts."""

    name: str
    method: str
    path: str  # "blocks/{block_id}/children"
    query_params: tuple[str, ...]
    body_params: tuple[str, ...]
    body: str | None
    query: str | None
    response: str | None
    full: str | None  # the non-partial object type a real answer carries

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)))


def _where(prefix: str, path: Iterable[Any]) -> str:
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError, prefix: str) -> str:
    """A jsonschema error in Notion's words: `body.children[0].paragraph should be defined, instead was ...`."""
    where = _where(prefix, error.absolute_path)
    instance = json.dumps(error.instance, ensure_ascii=False)
    if len(instance) > 60:
        instance = instance[:57] + "..."
    validator = error.validator
    if validator == DISPATCH:
        return f"{where} {error.message}."
    if validator in ("anyOf", "oneOf") and error.context:
        # Notion lists what each alternative lacks; the first alternative's closest miss says enough.
        closest = best_match(error.context)
        if closest is not None:
            return _describe(closest, prefix)
    if validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        return f"{_where(where, [extra[0]]) if extra else where} should be not present."
    if validator == "required":
        missing = re.findall(r"'([^']+)'", error.message)
        return f"{_where(where, missing[:1])} should be defined, instead was `undefined`."
    if validator == "maxItems":
        return f"{where}.length should be ≤ `{error.validator_value}`, instead was `{len(error.instance)}`."
    if validator == "const":
        return f"{where} should be `{json.dumps(error.validator_value)}`, instead was `{instance}`."
    if validator == "enum":
        options = ", ".join(f"`{value}`" for value in error.validator_value[:8])
        return f"{where} should be one of {options}, instead was `{instance}`."
    if validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{where} should be {' or '.join(f'`{kind}`' for kind in kinds)}, instead was `{instance}`."
    return f"{where}: {error.message}"


DISPATCH = "x-aidlc-dispatch"  # our keyword: {key: branch}; see dispatch_unions


def dispatch_unions(node: Any) -> Any:
    """The same schema, with each union of objects told apart by a key only one branch has (a block's type key, a
    parent's `page_id` / `data_source_id`, a property value's type key) rewritten as a dispatch on that key, so a
    value is checked against its own branch only (not thirty: jsonschema would take ~10 ms a block), and an error
    names that branch's field rather than "not valid under any of the given schemas"."""
    if isinstance(node, list):
        return [dispatch_unions(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: dispatch_unions(value) for key, value in node.items()}
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) < 2:
        return node
    if not all(isinstance(b, dict) and b.get("type") == "object" and b.get("required") for b in branches):
        return node
    table: dict[str, dict] = {}
    for branch in branches:
        elsewhere = {name for other in branches if other is not branch for name in other.get("properties", {})}
        unique = [name for name in branch["required"] if name not in elsewhere]
        if not unique:
            return node  # no key tells this branch apart: keep the plain union
        table[unique[0]] = branch
    dispatched = {key: value for key, value in node.items() if key != "anyOf"}
    dispatched[DISPATCH] = table
    return dispatched


def _dispatch(validator: Any, table: dict[str, dict], instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        yield ValidationError(f"should be an object, instead was `{json.dumps(instance)[:40]}`", validator=DISPATCH,
                              validator_value=list(table))
        return
    key = next((key for key in table if key in instance), None)
    if key is None:
        choices = ", ".join(f"`{name}`" for name in list(table)[:6]) + (", ..." if len(table) > 6 else "")
        yield ValidationError(f"should have one of {choices}", validator=DISPATCH, validator_value=list(table))
        return
    yield from validator.descend(instance, table[key])


_Validator = validators.extend(Draft7Validator, {DISPATCH: _dispatch})


class Contract:
    """The vendored schemas and endpoint table, with a validator per SDK type built on first use."""

    def __init__(self, manifest: dict, requests: dict, responses: dict) -> None:
        self.manifest = manifest
        self.sdk_version: str = manifest["sdk_version"]
        self.notion_version: str = manifest["notion_version"]
        self._schemas = {
            kind: {**schema, "dispatched": dispatch_unions(schema["definitions"])}
            for kind, schema in (("requests", requests), ("responses", responses))
        }
        self.endpoints = [
            Endpoint(
                name=name, method=spec["method"], path=spec["path"], query_params=tuple(spec["query_params"]),
                body_params=tuple(spec["body_params"]), body=spec.get("body"), query=spec.get("query"),
                response=spec.get("response"), full=spec.get("full"),
            )
            for name, spec in manifest["endpoints"].items()
        ]
        self.events: dict[str, str] = dict(manifest["events"])
        self._validators: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> Contract:
        folder = resources.files(__name__)
        read = lambda name: json.loads(folder.joinpath(name).read_text(encoding="utf-8"))  # noqa: E731
        return cls(read("manifest.json"), read("requests.schema.json"), read("responses.schema.json"))

    def validator(self, kind: str, type_name: str) -> Any:
        key = (kind, type_name)
        with self._lock:
            if key not in self._validators:
                schema = self._schemas[kind]
                if type_name not in schema["definitions"]:
                    raise KeyError(f"the vendored {kind} schema has no type {type_name}")
                root = {"$ref": f"#/definitions/{type_name}", "definitions": schema["dispatched"]}
                self._validators[key] = _Validator(root)
            return self._validators[key]

    def endpoint(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        """The endpoint for `method` and `path` (relative to /v1/), with its path parameters."""
        path = path.strip("/")
        for endpoint in self.endpoints:
            match = endpoint.pattern.fullmatch(path)
            # "users/me" also matches "users/{user_id}": the table lists getSelf first.
            if match and endpoint.method == method.upper():
                return endpoint, match.groupdict()
        return None

    def check_type(self, kind: str, type_name: str, instance: Any, prefix: str) -> list[str]:
        """Problems with `instance` as the SDK type `type_name` ("requests" or "responses" schema), named from
        `prefix`: the closest miss only, as Notion names one."""
        validator = self.validator(kind, type_name)
        errors = list(validator.iter_errors(instance))
        if not errors:
            return []
        best = best_match(errors)
        return [_describe(best, prefix)] if best is not None else [f"{prefix} failed validation."]

    def check_request(
        self, method: str, path: str, query: Mapping[str, list[str]] | None = None, body: bytes | dict | None = None
    ) -> list[str]:
        """Everything Notion would refuse in this request, in Notion's words; [] when it is acceptable."""
        if isinstance(body, bytes | bytearray) or body is None:
            frozen = tuple((key, tuple(values)) for key, values in sorted((query or {}).items()))
            return list(self._check_bytes(method.upper(), path.strip("/"), frozen, bytes(body or b"")))
        return self._check(method, path, query, body)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one contract per process; the tests' hook and the emulator
    def _check_bytes(self, method: str, path: str, query: tuple, body: bytes) -> tuple[str, ...]:  # check same bytes
        return tuple(self._check(method, path, {key: list(values) for key, values in query}, body))

    def _check(
        self, method: str, path: str, query: Mapping[str, list[str]] | None, body: bytes | dict | None
    ) -> list[str]:
        found = self.endpoint(method, path)
        if found is None:
            return [f"{method.upper()} /v1/{path.strip('/')} is not an endpoint of {self.manifest['sdk']} "
                    f"{self.sdk_version} that aidlc uses."]
        endpoint, _ = found
        problems: list[str] = []
        size = 0
        if isinstance(body, bytes | bytearray):
            size = len(body)
            try:
                parsed = json.loads(body) if body.strip() else {}
            except ValueError:
                return ["Error parsing JSON body."]
        else:
            parsed = body or {}
            size = len(json.dumps(parsed, ensure_ascii=False).encode()) if body else 0
        if parsed and endpoint.body is None:
            problems.append(f"body failed validation: {endpoint.name} takes no body.")
        elif endpoint.body is not None:
            problems += self.check_type("requests", endpoint.body, parsed, "body failed validation: body")
        if query:
            problems += self._query_problems(endpoint, query)
        problems += limits.request_problems(endpoint.name, parsed, size)
        return problems

    def _query_problems(self, endpoint: Endpoint, query: Mapping[str, list[str]]) -> list[str]:
        unknown = [key for key in query if key not in endpoint.query_params]
        if unknown:
            return [f"query failed validation: query.{unknown[0]} should be not present."]
        if endpoint.query is None:
            return []
        properties = self._schemas["requests"]["definitions"][endpoint.query].get("properties", {})
        typed: dict[str, Any] = {}
        for key, values in query.items():
            # The wire carries strings; the SDK's types are what the values mean.
            kind = properties.get(key, {}).get("type")
            if kind == "array":
                typed[key] = list(values)
            elif kind == "number":
                try:
                    typed[key] = float(values[-1]) if "." in values[-1] else int(values[-1])
                except ValueError:
                    typed[key] = values[-1]
            else:
                typed[key] = values[-1]
        return self.check_type("requests", endpoint.query, typed, "query failed validation: query")

    def check_response(self, endpoint_name: str, body: Any, *, full: bool = True) -> list[str]:
        """Problems with an answer to `endpoint_name`; `full` holds it to the complete object type."""
        endpoint = next(e for e in self.endpoints if e.name == endpoint_name)
        type_name = (endpoint.full if full else None) or endpoint.response
        assert type_name is not None
        return self.check_type("responses", type_name, body, f"{endpoint_name} response")

    def check_event(self, event: Any) -> list[str]:
        """Problems with a webhook delivery (the payload types in the SDK's `webhooks.d.ts`)."""
        type_name = self.events.get(event.get("type") if isinstance(event, dict) else None)
        if type_name is None:
            return [f"event type {event.get('type') if isinstance(event, dict) else event!r} is not in the contract"]
        return self.check_type("responses", type_name, event, "event")


@functools.cache
def contract() -> Contract:
    """The vendored contract, loaded once per process."""
    return Contract.load()


class RequestChecker:
    """An httpx request hook that holds every request to the contract and keeps what it refuses.

    It records rather than raises, because a refusal raised inside a caller that catches errors (the write-back
    records them and carries on) would vanish; the tests' autouse fixture fails the test on anything recorded."""

    def __init__(self, checked: Contract | None = None) -> None:
        self.contract = checked or contract()
        self.problems: list[str] = []
        self.checked = 0
        self.allowed = False
        self._lock = threading.Lock()

    def allow(self) -> None:
        """This test sends requests Notion refuses on purpose (to see them refused)."""
        self.allowed = True

    def __call__(self, request: Any) -> None:
        path = request.url.path
        marker = "/v1/"
        relative = path[path.index(marker) + len(marker):] if marker in path else path
        query: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            query.setdefault(key, []).append(value)
        found = self.contract.check_request(request.method, relative, query, request.content or b"")
        with self._lock:
            self.checked += 1
            self.problems += [f"{request.method} /v1/{relative}: {problem}" for problem in found]
