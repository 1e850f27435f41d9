"""Route a model's tool call to its tool; every failure becomes an error the model can read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from lever import safe_json
from lever.protocol import ToolCall
from lever.protocol.tools import ToolSchema
from lever.sandbox.safe_commands import is_known_safe
from lever.tools.base import Tool, ToolContext, ToolResult


class ToolRouter:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools: dict[str, Tool] = {tool.schema.name: tool for tool in tools}
        #: Tools that answer a call but are not offered to the model (a sub-agent at the depth
        #: limit keeps `spawn_agent` only to refuse it clearly).
        self.hidden: set[str] = set()

    def add(self, tool: Tool, *, hidden: bool = False) -> None:
        self.tools[tool.schema.name] = tool
        if hidden:
            self.hidden.add(tool.schema.name)

    def schemas(self) -> list[ToolSchema]:
        return [tool.schema for name, tool in self.tools.items() if name not in self.hidden]

    def parse_arguments(self, call: ToolCall) -> dict[str, Any] | str:
        """The arguments as a dict, or an error message for the model."""
        text = call.arguments.strip() or "{}"
        try:
            args = safe_json.loads(text)
        except safe_json.JSONLimitError as e:
            return (
                f"error: the arguments of {call.name} were refused: {e.msg}. "
                "Send one JSON object matching the tool's schema."
            )
        except json.JSONDecodeError as e:
            return (
                f"error: the arguments of {call.name} are not valid JSON ({e.msg} at line "
                f"{e.lineno} column {e.colno}). Send one JSON object matching the tool's schema."
            )
        if not isinstance(args, dict):
            kind = type(args).__name__
            return f"error: the arguments of {call.name} must be a JSON object, got {kind}"
        return args

    def is_read_only(self, call: ToolCall) -> bool:
        """True when running the call cannot change anything: safe to run beside others."""
        if call.name == "update_plan":
            return False  # it changes the plan: order matters
        if getattr(self.tools.get(call.name), "read_only", False):
            return True  # the tool says so itself (spawn_agent)
        if call.name != "shell":
            return False
        args = self.parse_arguments(call)
        if isinstance(args, str) or set(args) - {"command", "workdir", "timeout_ms", "yield_ms"}:
            return False
        command = args.get("command")
        if isinstance(command, list) and all(isinstance(part, str) for part in command):
            return is_known_safe(command)
        return isinstance(command, str) and is_known_safe(command)

    async def run(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None:
            names = ", ".join(self.tools) or "none"
            return ToolResult(
                f"error: unknown tool {call.name!r}. Available tools: {names}.", is_error=True
            )
        args = self.parse_arguments(call)
        if isinstance(args, str):
            return ToolResult(args, is_error=True)
        started = time.monotonic()
        try:
            result = await tool.run(args, ctx)
        except Exception as e:  # a tool bug must not end the session; the model hears of it
            result = ToolResult(
                f"error: {call.name} failed: {type(e).__name__}: {e}", is_error=True
            )
        if not result.duration_ms:
            result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
