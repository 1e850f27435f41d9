"""`spawn_agent`: the model hands a subtask to a child agent (`lever.agent.subagents`).

The tool only checks the arguments; the spawner (set by the front-end flow, which alone can
open a session) runs the child and answers with its final message, or an error saying why not.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any

from lever.protocol.tools import ToolSchema
from lever.tools.base import ToolContext, ToolResult

if TYPE_CHECKING:
    from lever.agent.subagents import Spawner

NAME = "spawn_agent"
MODES = ("read-only", "worktree")
DESCRIPTION = (files("lever.tools") / "spawn_agent.md").read_text(encoding="utf-8").strip()

SCHEMA = ToolSchema(
    name=NAME,
    description=DESCRIPTION,
    parameters={
        "type": "object",
        "properties": {
            "task": {
                "type": "string",
                "description": "The whole subtask: the sub-agent sees nothing else.",
            },
            "mode": {"type": "string", "enum": list(MODES), "description": "Default read-only."},
            "max_turns": {"type": "integer", "minimum": 1, "description": "Model requests."},
            "max_tokens": {"type": "integer", "minimum": 1, "description": "Tokens in total."},
        },
        "required": ["task"],
        "additionalProperties": False,
    },
)


class SpawnAgentTool:
    schema = SCHEMA
    #: Children never write the parent's folder (read-only mode, or a worktree of their own):
    #: several calls in one reply run at once (`ToolRouter.is_read_only`).
    read_only = True

    def __init__(self, spawner: Spawner) -> None:
        self.spawner = spawner

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from lever.agent.subagents import ChildRequest

        checked = check_arguments(args)
        if isinstance(checked, str):
            return ToolResult(f"error: {checked}", is_error=True)
        task, mode, max_turns, max_tokens = checked
        request = ChildRequest(task, mode, max_turns, max_tokens)
        return await self.spawner.spawn(ctx.call_id, request)


def check_arguments(args: dict[str, Any]) -> tuple[str, str, int | None, int | None] | str:
    """(task, mode, max_turns, max_tokens), or what is wrong with them."""
    unknown = sorted(set(args) - set(SCHEMA.parameters["properties"]))
    if unknown:
        return f"unknown argument(s) {', '.join(unknown)} for spawn_agent"
    task = args.get("task")
    if not isinstance(task, str) or not task.strip():
        return "spawn_agent needs `task`: the subtask as a non-empty string"
    mode = args.get("mode", "read-only")
    if mode not in MODES:
        return f"unknown mode {mode!r} (one of: {', '.join(MODES)})"
    numbers: list[int | None] = []
    for name in ("max_turns", "max_tokens"):
        value = args.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            return f"`{name}` must be a whole number ≥ 1, not {value!r}"
        numbers.append(value)
    return task, mode, numbers[0], numbers[1]
