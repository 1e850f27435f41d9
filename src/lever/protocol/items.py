"""History items: what the model sees, in provider-neutral form.

Each model client translates these to its wire format and its stream back to these. The history
of a session is a list of items, and it only ever grows (until a compaction rebuilds it).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UserMessage(_Item):
    type: Literal["user_message"] = "user_message"
    text: str


class AssistantMessage(_Item):
    type: Literal["assistant_message"] = "assistant_message"
    text: str
    #: Provider's id for the output item (Responses API), kept so it can be passed back.
    id: str | None = None


class Reasoning(_Item):
    """A reasoning item: people see the summary; the opaque parts go back to the provider."""

    type: Literal["reasoning"] = "reasoning"
    summary: str = ""
    id: str | None = None
    #: Responses API `encrypted_content`, or Anthropic thinking `signature`.
    encrypted_content: str | None = None


class ToolCall(_Item):
    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    #: The raw JSON text the model produced; parsed (and possibly rejected) by the tool router.
    arguments: str
    id: str | None = None
    #: True: a freeform (Responses `custom_tool_call`) call; its raw text is `arguments`'s
    #: `input` field, so the tools see one shape. None (not False) keeps rollouts unchanged.
    freeform: bool | None = None


class ToolOutput(_Item):
    """The one output every tool call gets, errors included."""

    type: Literal["tool_output"] = "tool_output"
    call_id: str
    output: str
    is_error: bool = False


class CompactedHistory(_Item):
    """The opaque result of a provider's own compaction (OpenAI `POST /responses/compact`).

    Only the provider that made it can read it; lever passes it back unchanged.
    """

    type: Literal["compaction"] = "compaction"
    encrypted_content: str
    id: str | None = None


Item = Annotated[
    UserMessage | AssistantMessage | Reasoning | ToolCall | ToolOutput | CompactedHistory,
    Field(discriminator="type"),
]


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str
    status: Literal["pending", "in_progress", "completed"]
