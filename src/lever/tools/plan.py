"""`update_plan`: the model's short plan of steps, rendered by every front end."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from lever.protocol import PlanStep, PlanUpdated
from lever.protocol.tools import ToolSchema
from lever.tools.base import ToolContext, ToolResult

_SCHEMA = ToolSchema(
    name="update_plan",
    description=(
        "Record your plan for the task as a short list of steps, each with a status "
        "(pending, in_progress, completed). At most one step is in_progress. Call it again "
        "whenever a step is done or the plan changes; the plan survives context compaction."
    ),
    parameters={
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "description": "Why the plan is what it is."},
            "plan": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["pending", "in_progress", "completed"],
                        },
                    },
                    "required": ["step", "status"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
)


class _PlanArgs(BaseModel):
    explanation: str = ""
    plan: list[PlanStep]


class PlanTool:
    schema = _SCHEMA

    def __init__(self) -> None:
        #: The current plan: typed state, re-injected verbatim after compaction.
        self.plan: list[PlanStep] = []

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            parsed = _PlanArgs.model_validate(args)
        except ValidationError as e:
            return ToolResult(
                f"error: invalid plan: {e.errors()[0]['msg']} at "
                f"{'.'.join(map(str, e.errors()[0]['loc']))}",
                is_error=True,
            )
        if sum(step.status == "in_progress" for step in parsed.plan) > 1:
            return ToolResult("error: at most one step may be in_progress", is_error=True)
        self.plan = parsed.plan
        ctx.emit(PlanUpdated(plan=parsed.plan, explanation=parsed.explanation))
        return ToolResult("Plan updated.")
