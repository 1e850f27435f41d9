"""The inline approval prompt: what would run, where, why lever asks, and one key to answer.

`ApprovalGate.decide` is the `Approvals` callback: it parks a future per request; the prompt
cell (mounted from the `ApprovalRequested` event) resolves it when a key is pressed.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from lever.safe_text import visible_controls

if TYPE_CHECKING:
    from lever.protocol import ApprovalDecided, ApprovalRequested
    from lever.sandbox.approval import Decision

KEYS: dict[str, tuple[Decision, str]] = {
    "y": ("approve_once", "yes, once"),
    "a": ("approve_session", "always this session"),
    "n": ("deny", "no"),
    "s": ("deny_and_stop", "no, and stop"),
}
_KINDS = {
    "shell": "run this command?",
    "escalation": "run this command OUTSIDE the sandbox?",
    "rerun_outside": "run this command again outside the sandbox?",
    "patch": "apply this patch?",
}


class ApprovalGate:
    """Pending requests by call id; the session awaits them, key presses resolve them."""

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[Decision]] = {}

    async def decide(self, request: ApprovalRequested) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.pending[request.call_id] = future
        try:
            return await future
        finally:
            self.pending.pop(request.call_id, None)

    def answer(self, call_id: str, decision: Decision) -> bool:
        future = self.pending.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(decision)
        return True


def describe_request(event: ApprovalRequested) -> Text:
    text = Text()
    text.append("? " + _KINDS.get(event.kind, "approve?"), style="bold")
    what = shlex.join(event.command) if event.command else ", ".join(event.paths or [])
    if event.command and event.command[:2] == ["bash", "-lc"] and len(event.command) == 3:
        what = event.command[2]
    # What the person approves is shown exactly: control characters as \xNN, never sent raw.
    what = visible_controls(what)
    text.append(f"\n  $ {what}" if event.command else f"\n  {what}")
    text.append(f"\n  in {visible_controls(event.cwd)}")
    if event.reason:
        text.append(f"\n  why: {visible_controls(event.reason)}")
    if event.justification:
        text.append(f"\n  the model says: {visible_controls(event.justification)}")
    return text


class ApprovalPrompt(Static, can_focus=True):
    """The prompt cell; it stays in the transcript with the decision once answered."""

    BINDINGS = [
        Binding(key, f"answer('{key}')", label, show=False) for key, (_, label) in KEYS.items()
    ]

    def __init__(self, event: ApprovalRequested, gate: ApprovalGate | None) -> None:
        super().__init__(classes="cell approval")
        self.event = event
        self.gate = gate
        self.decision: str | None = None
        self._render_prompt()

    def _render_prompt(self) -> None:
        text = describe_request(self.event)
        if self.decision is None:
            keys = "   ".join(f"[{key}] {label}" for key, (_, label) in KEYS.items())
            text.append("\n  " + keys, style="bold")
        else:
            text.append("\n  → " + self.decision.replace("_", " "), style="italic")
        self.update(text)

    def action_answer(self, key: str) -> None:
        if self.gate is None or self.decision is not None:
            return
        decision, _ = KEYS[key]
        self.gate.answer(self.event.call_id, decision)

    def decided(self, event: ApprovalDecided) -> None:
        self.decision = event.decision + ("" if event.by == "person" else f" (by {event.by})")
        self.remove_class("waiting")
        self.can_focus = False
        self._render_prompt()

    def cancelled(self) -> None:
        if self.decision is None:
            self.decision = "not answered (interrupted)"
            self.can_focus = False
            self._render_prompt()
