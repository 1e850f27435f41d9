"""Session events: the one ordered stream every front end, the rollout and the index consume.

Every event has a `type` tag, a sequence number and a timestamp, assigned when the session emits
it (model clients yield events with `seq=0`; the session numbers them). Events marked ephemeral
(deltas, output chunks) are shown live but not written to the rollout: the completed item or the
finished tool carries the same content.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lever.protocol.items import Item, PlanStep


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ephemeral: ClassVar[bool] = False

    seq: int = 0
    ts: float = Field(default_factory=time.time)


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    session_id: str
    cwd: str
    model: str
    provider: str
    sandbox: str = "danger-full-access"
    approval: str = "never"
    #: Instructions (system prompt) and tool schemas, so a rollout alone can replay the session.
    instructions: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    lever_version: str = ""
    #: The limits of each task (max_turns, max_tokens, max_seconds; null: none).
    limits: dict[str, Any] = Field(default_factory=dict)
    #: On a resume or fork: what was widened over the recorded session with `--widen`
    #: (e.g. "sandbox: read-only -> workspace-write").
    widened: list[str] = Field(default_factory=list)
    #: A sub-agent's session: the session that started it and its `spawn_agent` call, and its
    #: depth (1: a child of a person's session). Absent for a person's session (and in rollouts
    #: written before sub-agents recorded them).
    parent_id: str | None = None
    parent_call_id: str | None = None
    depth: int | None = None


class ItemAdded(_Event):
    """An item entered the history: a user message, a model output item, or a tool output."""

    type: Literal["item"] = "item"
    item: Item


class TextDelta(_Event):
    ephemeral: ClassVar[bool] = True
    type: Literal["text_delta"] = "text_delta"
    delta: str
    #: "text" for the answer, "reasoning" for a reasoning summary.
    channel: Literal["text", "reasoning"] = "text"


class ToolStarted(_Event):
    type: Literal["tool_started"] = "tool_started"
    call_id: str
    name: str
    arguments: str


class ToolOutputChunk(_Event):
    ephemeral: ClassVar[bool] = True
    type: Literal["tool_output_chunk"] = "tool_output_chunk"
    call_id: str
    chunk: str


class ToolFinished(_Event):
    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    name: str
    exit_code: int | None = None
    duration_ms: int = 0
    #: The whole output as produced (decoded leniently); the model sees a truncated form.
    full_output: str = ""
    truncated: bool = False
    is_error: bool = False
    #: Set when a shell command is still running and can be polled with this id.
    process_id: str | None = None


class ApprovalRequested(_Event):
    """A person is asked before a command or patch goes on; `ApprovalDecided` follows."""

    type: Literal["approval_requested"] = "approval_requested"
    call_id: str
    #: "shell": run a command the policy does not let through; "escalation": the model asks to
    #: run it outside the sandbox; "rerun_outside": it failed in the sandbox, run it outside?;
    #: "patch": apply a patch; "mcp": call a tool of an MCP server whose trust is "ask"
    #: (`command` is then [server__tool, arguments as JSON]).
    kind: Literal["shell", "patch", "escalation", "rerun_outside", "mcp"] = "shell"
    #: The argv that would run (a string command shows as ["bash", "-c", COMMAND], or
    #: ["bash", "-lc", COMMAND] where the login shell's environment could not be snapshotted).
    command: list[str] | None = None
    paths: list[str] | None = None
    cwd: str = ""
    #: Why lever asks (the policy, the sandbox's refusal...).
    reason: str = ""
    #: The model's own reason, for escalations.
    justification: str = ""


class ApprovalDecided(_Event):
    type: Literal["approval_decided"] = "approval_decided"
    call_id: str
    decision: Literal["approve_once", "approve_session", "deny", "deny_and_stop"]
    #: Who answered: the person, `--approve-all`, or nobody (a front end that cannot ask).
    by: Literal["person", "approve_all", "nobody"] = "person"


class PlanUpdated(_Event):
    type: Literal["plan_updated"] = "plan_updated"
    plan: list[PlanStep]
    explanation: str = ""


class PatchApplied(_Event):
    type: Literal["patch_applied"] = "patch_applied"
    call_id: str
    files: list[str]
    diff: str


class TokenUsage(_Event):
    type: Literal["token_usage"] = "token_usage"
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Compaction(_Event):
    type: Literal["compaction"] = "compaction"
    summary: str
    kept: list[Item] = Field(default_factory=list)
    #: The provider's real context window, once its error taught it: used after a resume too.
    context_window: int | None = None


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    #: True when lever will retry on its own (the run goes on).
    retrying: bool = False
    attempt: int = 0
    kind: str = "error"


class TurnFinished(_Event):
    type: Literal["turn_finished"] = "turn_finished"
    #: "done" (the model answered without a tool call), "interrupted", "limit", "error", "stuck".
    reason: str
    last_message: str = ""
    detail: str = ""


class SessionEnded(_Event):
    type: Literal["session_ended"] = "session_ended"
    reason: str = "done"


class ChildStarted(_Event):
    """A `spawn_agent` call opened a sub-agent: a session of its own with its own rollout."""

    type: Literal["child_started"] = "child_started"
    call_id: str
    child_id: str
    task: str
    #: "read-only" (research in the parent's folder) or "worktree" (changes in its own tree).
    mode: str
    cwd: str
    rollout: str | None = None
    #: The child's depth (1: a child of the person's session).
    depth: int = 1
    limits: dict[str, Any] = Field(default_factory=dict)


class ChildEvent(_Event):
    """One of a sub-agent's own events, forwarded live (its rollout keeps them, not ours)."""

    ephemeral: ClassVar[bool] = True
    type: Literal["child_event"] = "child_event"
    call_id: str
    child_id: str
    #: The child's event in its JSON form (`event_to_json`), with its own `seq`.
    event: dict[str, Any]

    @property
    def recorded(self) -> bool:
        """The child's rollout records the inner event (not a delta): a consumer that shows only
        recorded events (`lever exec --json`) shows this one."""
        return self.event.get("type") not in {"text_delta", "tool_output_chunk"}


class ChildFinished(_Event):
    type: Literal["child_finished"] = "child_finished"
    call_id: str
    child_id: str
    #: The child's turn end ("done", "limit", "error", "interrupted", …) or "crashed".
    reason: str
    detail: str = ""
    last_message: str = ""
    tokens: int = 0
    turns: int = 0
    #: Worktree mode: the size of the child's diff and the file that holds all of it.
    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    diff_path: str | None = None


Event = Annotated[
    SessionStarted
    | ItemAdded
    | TextDelta
    | ToolStarted
    | ToolOutputChunk
    | ToolFinished
    | ApprovalRequested
    | ApprovalDecided
    | PlanUpdated
    | PatchApplied
    | TokenUsage
    | Compaction
    | ErrorEvent
    | TurnFinished
    | SessionEnded
    | ChildStarted
    | ChildEvent
    | ChildFinished,
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_to_json(event: BaseModel) -> str:
    """The one JSON form of an event: rollouts, `--json`, app-server and dashboard all use it."""
    return event.model_dump_json(exclude_none=True)


def event_from_json(line: str | bytes) -> Event:
    return _EVENT_ADAPTER.validate_json(line)
