"""Tool schemas for the AgentCore Gateway Lambda target, generated from the tool registry.

The gateway's `tool_schema.inline_payloads` is not JSON Schema: properties are a list of `{name, type, required,
description, items, properties}` and, two levels down, the provider only takes `items_json` / `properties_json`
strings. `gateway_inline_payloads()` converts the registry's JSON Schemas (pydantic's, with `$defs`, `anyOf`
for optionals) into that shape, so a tool added to the registry shows up in the gateway with no Pulumi change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

GATEWAY_TYPES = ("string", "number", "integer", "boolean", "array", "object")


def gateway_inline_payloads(schemas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registry schemas -> `tool_schema.inline_payloads` entries (snake_case keys, as pulumi_aws takes them)."""
    payloads = []
    for schema in schemas:
        input_schema = schema.get("inputSchema") or schema.get("input_schema") or {"type": "object"}
        defs = input_schema.get("$defs", {})
        payloads.append({
            "name": schema["name"],
            "description": (schema.get("description") or schema["name"])[:2000],
            "input_schema": _convert(input_schema, defs, depth=0),
        })
    return payloads


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s and collapse `anyOf: [X, null]` (an Optional) to X."""
    if "$ref" in schema:
        resolved = dict(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}))
        return _resolve({**resolved, **{k: v for k, v in schema.items() if k != "$ref"}}, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            merged = {k: v for k, v in schema.items() if k != key}
            return _resolve({**options[0], **merged}, defs) if options else {**merged, "type": "string"}
    return schema


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind not in GATEWAY_TYPES:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


def _convert(schema: dict[str, Any], defs: dict[str, Any], depth: int, name: str | None = None,
             required: bool | None = None) -> dict[str, Any]:
    """One schema node. depth 0: the input schema; 1: its properties/items; 2: theirs (deeper goes in *_json)."""
    schema = _resolve(schema, defs)
    kind = _type_of(schema)
    node: dict[str, Any] = {"type": kind}
    if name is not None:
        node["name"] = name
    if schema.get("description"):
        node["description"] = schema["description"]
    if required and name is not None:
        node["required"] = True
    if depth >= 2:
        if kind == "array" and "items" in schema:
            node["items_json"] = json.dumps(_inline(schema["items"], defs), sort_keys=True)
        if kind == "object" and schema.get("properties"):
            node["properties_json"] = json.dumps(_inline(schema, defs).get("properties", {}), sort_keys=True)
        return node
    if kind == "array" and "items" in schema:
        # The provider's schema gives a property's `items` full fields (and only those: no *_json), one level
        # further than the other nodes at depth 1, so a property's items stay at the property's depth.
        node["items"] = _convert(schema["items"], defs, depth if depth == 1 and name is not None else depth + 1)
    if kind == "object" and schema.get("properties"):
        must = set(schema.get("required", []))
        node["properties"] = [
            _convert(sub, defs, depth + 1, name=key, required=key in must)
            for key, sub in schema["properties"].items()
        ]
    return node


def _inline(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A self-contained JSON Schema (refs inlined) for the provider's *_json fields."""
    schema = _resolve(schema, defs)
    out = {k: v for k, v in schema.items() if k not in ("$defs", "title")}
    if "properties" in out:
        out["properties"] = {k: _inline(v, defs) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _inline(out["items"], defs)
    return out
