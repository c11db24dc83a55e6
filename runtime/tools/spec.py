"""What a tool is: a typed Python function with a JSON schema, grouped by the system it acts on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ToolSpec:
    """One tool.

    `func(context, args)` receives the call's `ToolContext` (who is calling, for which invocation, with which
    adapters) and an instance of `args_model`, and returns a JSON-serialisable dict. The JSON schema the model
    sees is `args_model.model_json_schema()`.
    """

    name: str
    description: str
    target: str  # "notion" | "github" | "prototype" | "analysis" | a plugin's own group
    args_model: type[BaseModel]
    func: Callable[..., dict[str, Any]]

    def input_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()
