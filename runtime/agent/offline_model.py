"""The offline model: a Strands `Model` with no LLM behind it.

It drives a plugin's offline script (a generator of `ToolCall`s, see `runtime.plugins`): each call the script
yields becomes a `toolUse` block, exactly as a real model would ask for it; the tool's result text (JSON) is sent
back into the script; the script's return value becomes the final answer. Tokens are counted as a real model's
would be billed, approximately: one token per four characters of what goes in (system prompt, messages, tool
specs) and of what comes out. Deterministic, so runs, budgets and costs are reproducible.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Generator
from typing import Any

from strands.models.model import Model

from runtime.cost import OFFLINE_MODEL_ID
from runtime.models import AgentRequest
from runtime.plugins import OfflineScript, ToolCall
from runtime.tools.base import raised_at

CHARS_PER_TOKEN = 4


class OfflineScriptError(RuntimeError):
    """The offline script could not go on (a tool failed or was denied, or the script itself raised)."""


def count_tokens(*parts: Any) -> int:
    text = "".join(part if isinstance(part, str) else json.dumps(part, sort_keys=True, default=str) for part in parts)
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def _tool_result_text(block: dict[str, Any]) -> str:
    pieces = []
    for item in block.get("content", []):
        if "json" in item:
            pieces.append(json.dumps(item["json"]))
        elif "text" in item:
            pieces.append(item["text"])
    return "\n".join(pieces)


def parse_tool_result(block: dict[str, Any]) -> dict[str, Any]:
    """A tool result as the dict the script expects; MCP tools answer with JSON text (and structured content)."""
    if isinstance(block.get("structuredContent"), dict):
        return block["structuredContent"]
    for item in block.get("content", []):
        if isinstance(item.get("json"), dict):
            return item["json"]
    text = _tool_result_text(block)
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"result": value}


class OfflineModel(Model):
    def __init__(self, script: OfflineScript, request: AgentRequest, **config: Any) -> None:
        self.script = script
        self.request = request
        self.config: dict[str, Any] = {"model_id": OFFLINE_MODEL_ID, **config}
        self._generator: Generator[ToolCall, dict[str, Any], str] | None = None
        self._pending: dict[str, str] = {}  # toolUseId -> tool name
        self._calls = 0

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(self, output_model, prompt, system_prompt=None, **kwargs) -> AsyncGenerator:
        raise NotImplementedError("the offline model only drives tool calls; it has no structured output")
        yield  # pragma: no cover  (makes this an async generator, as the interface requires)

    def _advance(self, messages: list[dict[str, Any]]) -> ToolCall | str:
        """The script's next step: a tool call, or the summary text when it returns."""
        if self._generator is None:
            self._generator = self.script(self.request)
            return self._step(lambda: next(self._generator))
        results = [b["toolResult"] for b in messages[-1].get("content", []) if "toolResult" in b]
        if not results:
            raise OfflineScriptError("the offline model expected a tool result in the last message")
        result = results[-1]
        tool = self._pending.pop(result.get("toolUseId", ""), "tool")
        if result.get("status") == "error":
            error = str(parse_tool_result(result).get("error") or _tool_result_text(result))
            # the registry's messages already start "<tool> failed: ..."; others (a denial) get the tool named
            raise OfflineScriptError(error if error.startswith(f"{tool} failed") else f"tool {tool} failed: {error}")
        return self._step(lambda: self._generator.send(parse_tool_result(result)))

    def _step(self, advance: Callable[[], ToolCall]) -> ToolCall | str:
        try:
            return advance()
        except StopIteration as done:
            return str(done.value or "")
        except Exception as exc:  # the script's own bug: say what and where, so its author can act on it
            raise OfflineScriptError(
                f"the offline script of agent {self.request.agent_type!r} raised {type(exc).__name__} at "
                f"{raised_at(exc)}: {exc}"
            ) from exc

    def _resolve_name(self, name: str, tool_specs: list[dict[str, Any]] | None) -> str:
        """Match the script's bare tool name to the name the agent knows (the gateway adds `target___`)."""
        names = [spec["name"] for spec in tool_specs or []]
        if name in names:
            return name
        for candidate in names:
            if candidate.endswith("___" + name) or candidate.endswith("_" + name):
                return candidate
        return name

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs: Any) -> AsyncIterable[dict]:
        # Strands' other keyword arguments (tool_choice, invocation_state, cancel_signal...) change nothing offline.
        input_tokens = count_tokens(system_prompt or "", messages, tool_specs or [])
        step = self._advance(messages)
        yield {"messageStart": {"role": "assistant"}}
        if isinstance(step, ToolCall):
            self._calls += 1
            tool_use_id = f"tooluse_offline_{self._calls:04d}"
            name = self._resolve_name(step.name, tool_specs)
            self._pending[tool_use_id] = step.name
            arguments = json.dumps(step.args)
            yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}}}
            yield {"contentBlockDelta": {"delta": {"toolUse": {"input": arguments}}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
            output_tokens = count_tokens(name, arguments)
        else:
            text = step or "Done."
            yield {"contentBlockStart": {"start": {}}}
            yield {"contentBlockDelta": {"delta": {"text": text}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
            output_tokens = count_tokens(text)
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 0},
            }
        }
