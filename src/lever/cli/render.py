"""Human-readable progress on stderr for `lever exec` and `lever demo`.

One consumer of the event stream among others; it holds no state of its own beyond layout.
"""

from __future__ import annotations

import sys
from typing import TextIO

from pydantic import BaseModel

from lever.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    ChildEvent,
    ChildFinished,
    ChildStarted,
    ErrorEvent,
    ItemAdded,
    PatchApplied,
    PlanUpdated,
    Reasoning,
    SessionStarted,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnFinished,
)
from lever.safe_text import TerminalFilter, terminal_safe
from lever.tools.describe import child_line, describe_call

_PLAN_MARKS = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}
#: Lines of a command's output shown on stderr; the model and the rollout get more.
_TAIL_LINES = 6
#: Lines of a reasoning summary shown on stderr.
_REASONING_LINES = 12
#: Lines of a patch's diff shown on stderr.
_DIFF_LINES = 40
#: Tools whose own event (the plan) says it all: no started/finished lines for them.
_QUIET_TOOLS = {"update_plan"}


class HumanRenderer:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self._in_text = False
        self._filter = TerminalFilter(keep_colour=True)
        #: The answer text shown so far (stderr cannot take it back).
        self._shown = ""
        #: After a retried stream: what the failed attempt showed, which the new attempt's
        #: text is matched against so the same words are not shown twice.
        self._replaying: str | None = None
        self._again = ""

    def _line(self, text: str) -> None:
        if self._in_text:
            self.out.write("\n\n")
            self._in_text = False
        # Command output and model text may carry escape sequences aimed at the terminal.
        self.out.write(terminal_safe(text, keep_colour=True) + "\n")
        self.out.flush()

    def __call__(self, event: BaseModel) -> None:
        if isinstance(event, ToolStarted | TurnFinished):
            self._shown, self._replaying = "", None
        if isinstance(event, SessionStarted):
            self._line(f"lever · {event.model} via {event.provider} · {event.cwd}")
            self._line(f"session {event.session_id} · sandbox {event.sandbox}")
        elif isinstance(event, TextDelta) and event.channel == "text":
            self._text(event.delta)
        elif isinstance(event, ItemAdded) and isinstance(event.item, AssistantMessage):
            if self._in_text:
                self.out.write("\n")
                self._in_text = False
            self._shown, self._replaying = "", None
        elif isinstance(event, ItemAdded) and isinstance(event.item, Reasoning):
            self._reasoning(event.item.summary)
        elif isinstance(event, ToolStarted) and event.name not in _QUIET_TOOLS:
            self._line(describe_call(event.name, event.arguments))
        elif isinstance(event, ToolFinished) and (event.name not in _QUIET_TOOLS or event.is_error):
            self._tool_finished(event)
        elif isinstance(event, PatchApplied):
            self._line("  patched " + ", ".join(event.files))
            for line in event.diff.splitlines()[:_DIFF_LINES]:
                self._line("  │ " + line)
        elif isinstance(event, PlanUpdated):
            for step in event.plan:
                self._line(f"  {_PLAN_MARKS[step.status]} {step.step}")
        elif isinstance(event, ApprovalRequested):
            what = " ".join(event.command or []) or ", ".join(event.paths or [])
            self._line(f"? approval needed ({event.kind}): {what}")
            if event.reason:
                self._line(f"  reason: {event.reason}")
            if event.justification:
                self._line(f"  the model says: {event.justification}")
        elif isinstance(event, ApprovalDecided):
            self._line(f"  → {event.decision.replace('_', ' ')} (by {event.by.replace('_', ' ')})")
        elif isinstance(event, ErrorEvent):
            self._line(("  retry: " if event.retrying else "error: ") + event.message)
            if event.retrying and self._shown:
                self._replaying, self._again = self._shown, ""
        elif isinstance(event, TurnFinished) and event.reason != "done":
            self._line(f"stopped ({event.reason}): {event.detail}")
        elif isinstance(event, ChildStarted | ChildEvent | ChildFinished):
            said = child_line(event)
            if said is not None:
                self._line("  " + said)

    def _reasoning(self, summary: str) -> None:
        """A reasoning summary, dimmed on a terminal (it is not the answer)."""
        dim = self.out.isatty()
        for line in summary.strip().splitlines()[:_REASONING_LINES]:
            text = f"  · {line}".rstrip()
            self._line(f"\x1b[2m{text}\x1b[0m" if dim else text)

    def _text(self, delta: str) -> None:
        """Show a piece of the answer; after a retry, only what the new attempt adds."""
        if self._replaying is not None:
            self._again += delta
            if self._replaying.startswith(self._again):
                return  # the same words again: already on screen
            if self._again.startswith(self._replaying):
                delta = "…" + self._again[len(self._replaying) :]
            else:
                delta = "(the answer starts again)\n" + self._again
            self._shown, self._replaying = self._again, None
        else:
            self._shown += delta
        self.out.write(self._filter.feed(delta))
        self.out.flush()
        self._in_text = True

    def _tool_finished(self, event: ToolFinished) -> None:
        lines = event.full_output.rstrip("\n").splitlines()
        for line in lines[-_TAIL_LINES:] if event.name == "shell" or event.is_error else []:
            self._line("  │ " + line[:200])
        if event.process_id:
            status = f"still running as {event.process_id}"
        elif event.exit_code is not None:
            status = f"exit {event.exit_code}"
        else:
            status = "error" if event.is_error else "ok"
        self._line(f"  └ {status} · {event.duration_ms / 1000:.1f} s")
