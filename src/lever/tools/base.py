"""What a tool is: a schema the model sees and an async `run` that always returns a result.

Tools never raise for bad input: they return a `ToolResult` with `is_error=True` and a message the
model can act on. The router (`lever.tools.router`) parses arguments and handles unknown tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from lever.protocol.tools import ToolSchema
from lever.sandbox.base import NoSandbox, Sandbox

if TYPE_CHECKING:
    from lever.sandbox.approval import Approvals


@dataclass
class ToolResult:
    #: What the model sees (already truncated where that applies).
    output: str
    is_error: bool = False
    exit_code: int | None = None
    #: The whole output, kept in the rollout; defaults to `output`.
    full_output: str | None = None
    truncated: bool = False
    duration_ms: int = 0
    #: Id of a still-running shell process the model can poll.
    process_id: str | None = None


@dataclass
class ToolContext:
    cwd: Path
    call_id: str = ""
    writable_roots: tuple[Path, ...] = ()
    sandbox: Sandbox = field(default_factory=NoSandbox)
    env: Mapping[str, str] = field(default_factory=dict)
    #: Emits a session event (ToolOutputChunk, PatchApplied, PlanUpdated...); set by the session.
    emit: Callable[[BaseModel], None] = lambda event: None
    #: Folder where full outputs of truncated commands are written for the model to read back.
    artifacts_dir: Path | None = None
    #: The session's approval policy and cache; None runs everything as the sandbox allows.
    approvals: Approvals | None = None
    #: `time.monotonic()` by which the run must end (its time limit), if it has one: commands
    #: are not given longer.
    deadline: float | None = None

    @property
    def roots(self) -> tuple[Path, ...]:
        return self.writable_roots or (self.cwd,)


class Tool(Protocol):
    schema: ToolSchema

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...
