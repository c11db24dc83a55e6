"""The one JSON-schema module: a tool's pydantic schema in the three shapes its three readers take.

- `inline_schema`: for MCP clients (the local MCP server's tools/list): full JSON Schema, `$ref`s inlined, titles
  dropped, `X | None` collapsed to X (leaving an argument out is how a model says None).
- `gateway_schema`: the subset the AgentCore Gateway's SchemaDefinition accepts (type, description, properties,
  required, items); enums go into the description. `ToolRegistry.schemas()` serves it.
- `gateway_inline_payloads`: those schemas in the shape the Pulumi provider takes for the gateway target's
  `tool_schema.inline_payloads` (components/agentcore.py): properties are a list of `{name, type, required,
  description, items, properties}` and, two levels down, the provider only takes `items_json` / `properties_json`
  strings. So a tool added to the registry shows up in the gateway with no Pulumi change.

One resolver (`_resolve`: refs inlined, optionals collapsed) stands under all three.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

GATEWAY_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_DROPPED = ("title", "$defs")


def _resolve(node: dict[str, Any], defs: dict[str, Any], *, first_option: bool) -> dict[str, Any]:
    """Inline a `$ref` and collapse `anyOf: [X, null]` (an Optional) to X, keeping a non-None default.

    `first_option`: a real union (several non-null options) becomes its first option too, for the gateway, whose
    schema has no unions; MCP keeps the union."""
    while True:
        if "$ref" in node:
            target = dict(defs.get(node["$ref"].rsplit("/", 1)[-1], {}))
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        key = next((k for k in ("anyOf", "oneOf") if k in node), None)
        if key is None:
            return node
        options = [o for o in node[key] if o.get("type") != "null"]
        if len(options) != 1 and not first_option:
            return node
        rest = {k: v for k, v in node.items() if k not in (key, "default")}
        if node.get("default") is not None:
            rest["default"] = node["default"]
        node = {**options[0], **rest} if options else {**rest, "type": "string"}


def _inline(node: Any, defs: dict[str, Any], *, first_option: bool) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs, first_option=first_option) for n in node]
    if not isinstance(node, dict):
        return node
    node = _resolve(node, defs, first_option=first_option)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties" and isinstance(value, dict):  # property names are data: one may be called "title"
            out[key] = {name: _inline(sub, defs, first_option=first_option) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs, first_option=first_option)
    return out


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema with $refs inlined, titles dropped and `X | None` collapsed to X (None = leave it out)."""
    return _inline(schema, schema.get("$defs", {}), first_option=False)


def _gateway_inline(schema: dict[str, Any]) -> dict[str, Any]:
    return _inline(schema, schema.get("$defs", {}), first_option=True)


def gateway_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The subset the AgentCore Gateway's SchemaDefinition accepts; enums go into the description."""

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": _type_of(node)}
        description = node.get("description", "")
        if "enum" in node:
            description = (description.rstrip(".") + ". " if description else "") + "One of: " + ", ".join(map(str, node["enum"]))
        if description:
            out["description"] = description
        if "properties" in node:
            out["properties"] = {k: walk(v) for k, v in node["properties"].items()}
        if node.get("required"):
            out["required"] = list(node["required"])
        if out["type"] == "array":
            out["items"] = walk(node.get("items") or {"type": "object"})
        return out

    return walk(_gateway_inline(schema))


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind not in GATEWAY_TYPES:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


# --- the Pulumi provider's inline payloads ------------------------------------------------------------------


def gateway_inline_payloads(schemas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registry schemas -> `tool_schema.inline_payloads` entries (snake_case keys, as pulumi_aws takes them)."""
    return [
        {
            "name": schema["name"],
            "description": (schema.get("description") or schema["name"])[:2000],
            "input_schema": _convert(
                _gateway_inline(schema.get("inputSchema") or schema.get("input_schema") or {"type": "object"}), 0),
        }
        for schema in schemas
    ]


def _convert(schema: dict[str, Any], depth: int, name: str | None = None, required: bool | None = None) -> dict[str, Any]:
    """One (inlined) schema node. depth 0: the input schema; 1: its properties/items; 2: theirs (deeper goes in
    *_json)."""
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
            node["items_json"] = json.dumps(schema["items"], sort_keys=True)
        if kind == "object" and schema.get("properties"):
            node["properties_json"] = json.dumps(schema["properties"], sort_keys=True)
        return node
    if kind == "array" and "items" in schema:
        # The provider's schema gives a property's `items` full fields (and only those: no *_json), one level
        # further than the other nodes at depth 1, so a property's items stay at the property's depth.
        node["items"] = _convert(schema["items"], depth if depth == 1 and name is not None else depth + 1)
    if kind == "object" and schema.get("properties"):
        must = set(schema.get("required", []))
        node["properties"] = [
            _convert(sub, depth + 1, name=key, required=key in must) for key, sub in schema["properties"].items()
        ]
    return node
