"""The one JSON-schema module: MCP's, the gateway's and the Pulumi provider's shapes from one pydantic schema."""

from __future__ import annotations

from pydantic import BaseModel, Field

from runtime.tools.schemas import gateway_inline_payloads, gateway_schema, inline_schema


class Cell(BaseModel):
    text: str


class Args(BaseModel):
    title: str = Field(description="a property that happens to be called title")
    cells: list[Cell] | None = None
    kind: str | int = "a"


def test_a_property_named_title_survives_all_three_shapes() -> None:
    schema = Args.model_json_schema()
    mcp, gateway = inline_schema(schema), gateway_schema(schema)
    assert mcp["properties"]["title"]["description"].startswith("a property")
    assert "title" not in mcp["properties"]["title"]  # pydantic's own titles are dropped
    assert gateway["properties"]["title"] == {"type": "string", "description": "a property that happens to be called title"}
    (payload,) = gateway_inline_payloads([{"name": "t", "inputSchema": gateway}])
    assert {"type": "string", "name": "title", "required": True,
            "description": "a property that happens to be called title"} in payload["input_schema"]["properties"]


def test_optionals_collapse_and_unions_stay_unions_for_mcp_only() -> None:
    schema = Args.model_json_schema()
    mcp, gateway = inline_schema(schema), gateway_schema(schema)
    assert mcp["properties"]["cells"]["items"]["properties"]["text"]["type"] == "string"  # $ref inlined
    assert [o["type"] for o in mcp["properties"]["kind"]["anyOf"]] == ["string", "integer"]
    assert gateway["properties"]["kind"]["type"] == "string"  # the gateway has no unions: the first option
    assert gateway["properties"]["cells"]["items"]["properties"]["text"] == {"type": "string"}
