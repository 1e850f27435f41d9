"""`lever [PROMPT]`: the interactive app. Every cell comes from the session's event stream.

The session runs on the app's own asyncio loop: a sink posts each event as a Textual message,
turns run as workers so the screen stays live, and approvals park a future that a key press
resolves.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from pydantic import BaseModel
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.worker import WorkerCancelled, WorkerFailed

from lever.agent.session import Session
from lever.config.loader import lever_home
from lever.config.providers import ConfigError
from lever.protocol import (
    ApprovalDecided,
    PlanUpdated,
    SessionStarted,
    TokenUsage,
    TurnFinished,
)
from lever.tui.approval import ApprovalGate
from lever.tui.commands import COMMANDS, run_command
from lever.tui.composer import Composer
from lever.tui.launch import Launch, open_session
from lever.tui.plan import PlanPanel
from lever.tui.status import StatusLine
from lever.tui.transcript import Transcript


class SessionEvent(Message):
    def __init__(self, session: Session, event: BaseModel) -> None:
        super().__init__()
        self.session = session
        self.event = event


class LeverApp(App[int]):
    CSS_PATH = "lever.tcss"
    TITLE = "lever"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+c", "interrupt_or_quit", "interrupt / quit", priority=True),
        Binding("escape", "interrupt", "interrupt"),
        Binding("ctrl+q", "quit", "quit", priority=True),
        Binding("pageup", "page(-1)", "scroll up", show=False),
        Binding("pagedown", "page(1)", "scroll down", show=False),
    ]

    def __init__(self, launch: Launch) -> None:
        super().__init__()
        self.launch = launch
        self.cwd = launch.cwd.resolve()
        self.home = lever_home()
        self.gate = ApprovalGate()
        self.session: Session | None = None
        self.queue: list[str] = []
        self.busy = False
        self.opening = False
        self._quit_armed = False
        #: Turns whose `turn_finished` has been shown (tests and the bench wait on it).
        self.turns_shown = 0
        self.transcript = Transcript()
        self.transcript.gate = self.gate
        self.plan = PlanPanel()
        self.composer = Composer(self.cwd, COMMANDS)
        self.status = StatusLine()

    def compose(self) -> ComposeResult:
        yield self.transcript
        yield self.plan
        yield self.composer
        yield self.status

    def on_mount(self) -> None:
        self.composer.area.focus()
        # The composer is drawn first; the session (config, sandbox probe, client) comes next.
        self.opening = True
        self.call_after_refresh(self._first_open)

    async def _first_open(self) -> None:
        try:
            await self._open(self.launch.resume)
        finally:
            self.opening = False
        if self.session is None:
            return
        waiting = ([self.launch.prompt] if self.launch.prompt else []) + self.queue
        self.queue = []
        for text in waiting:
            self.send(text)

    # -- sessions ---------------------------------------------------------------------------

    async def _open(self, resume: Path | None) -> None:
        try:
            opened = open_session(self.launch, self.gate.decide, resume)
        except (ConfigError, FileNotFoundError, ValueError) as e:
            self.notice(str(e), "error")
            return
        session = opened.session
        self.cwd = session.cwd
        for event in opened.past:
            await self._show(event)
        self.session = session

        def sink(event: BaseModel) -> None:
            self.post_message(SessionEvent(session, event))

        session.subscribe(sink)
        if opened.replayed is None:
            session.start()
        else:
            session.restore(opened.replayed)
            if opened.replayed.open_turn:
                self._start_turn(None)

    async def _close(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        if self.busy:
            session.interrupt()
            for worker in [w for w in self.workers if w.group == "turn"]:
                with contextlib.suppress(WorkerCancelled, WorkerFailed):
                    await worker.wait()
        await session.close()

    async def new_session(self, resume: Path | None = None) -> None:
        await self._close()
        self.queue.clear()
        await self.transcript.clear_cells()
        self.plan.show_plan([])
        self.status.reset()
        await self._open(resume)
        self.status.refresh_text()

    async def resume_session(self, path: Path) -> None:
        await self.new_session(resume=path)

    def require_session(self) -> Session | None:
        if self.session is None:
            self.notice("no model is configured (see above); this needs a session", "error")
        return self.session

    # -- events -----------------------------------------------------------------------------

    async def on_session_event(self, message: SessionEvent) -> None:
        if message.session is self.session:
            await self._show(message.event)

    async def _show(self, event: BaseModel) -> None:
        if isinstance(event, SessionStarted | TokenUsage):
            self.status.observe(event)
            if self.session is not None:
                used = self.session.estimated_tokens()
                self.status.info.context_percent = self.session.budget.percent_used(used)
            self.status.refresh_text()
        elif isinstance(event, PlanUpdated):
            self.plan.show_plan(event.plan, event.explanation)
        await self.transcript.apply(event)
        if isinstance(event, TurnFinished):
            self.turns_shown += 1
        if isinstance(event, TurnFinished | SessionStarted | ApprovalDecided):
            self._focus_composer()

    def _focus_composer(self) -> None:
        if not self.transcript.waiting_prompts:
            self.composer.area.focus()

    def notice(self, text: str, kind: str = "notice") -> None:
        from lever.tui.cells import NoticeCell

        self.run_worker(self.transcript.add(NoticeCell(text, kind)))

    # -- turns ------------------------------------------------------------------------------

    def action_page(self, step: int) -> None:
        self.transcript.page(step)

    async def on_composer_submitted(self, message: Composer.Submitted) -> None:
        self._quit_armed = False
        self.transcript.auto_follow = True
        self.transcript.follow()
        text = message.text
        if text.startswith("/"):
            await run_command(self, text)
            return
        if self.session is None and not self.opening:
            self.notice("no model is configured, so lever cannot answer:\n\n" + _hint(), "error")
            return
        self.send(text)

    def send(self, text: str) -> None:
        if self.busy or self.opening:
            self.queue.append(text)
            self.status.info.queued = len(self.queue)
            self.status.refresh_text()
            self.notice(f"queued (sent when this turn ends): {text}", "queued")
            return
        self._start_turn(text)

    def _start_turn(self, text: str | None) -> None:
        self.busy = True
        self.status.info.busy = True
        self.status.refresh_text()
        self.run_worker(self._turn(text), group="turn", exit_on_error=False)

    async def _turn(self, text: str | None) -> None:
        session = self.session
        try:
            if session is not None:
                await session.run_turn(text)
        finally:
            self.busy = False
            self.status.info.busy = False
            self.status.refresh_text()
        if self.queue and self.session is session:
            next_text = self.queue.pop(0)
            self.status.info.queued = len(self.queue)
            self._start_turn(next_text)

    async def run_compaction(self) -> None:
        if self.session is None:
            return
        self.busy = True
        try:
            await self.session.compact()
        except Exception as e:  # a failed summary request must not take the app down
            self.notice(f"compaction failed: {e}", "error")
        finally:
            self.busy = False

    # -- keys -------------------------------------------------------------------------------

    def action_interrupt(self) -> None:
        if self.busy and self.session is not None:
            self.session.interrupt()
            self.queue.clear()
            self.status.info.queued = 0

    async def action_interrupt_or_quit(self) -> None:
        if self.busy:
            self.action_interrupt()
            return
        if self.composer.text:
            self.composer.set_text("")
            return
        if self._quit_armed:
            await self.action_quit()
            return
        self._quit_armed = True
        self.notice("press ctrl+c again to quit")

    async def action_quit(self) -> None:
        await self._close()
        self.exit(0)

    async def on_unmount(self) -> None:
        await asyncio.shield(self._close())


def _hint() -> str:
    from lever.config.providers import CONFIGURE_HINT

    return CONFIGURE_HINT


def run_app(launch: Launch) -> int:
    result = LeverApp(launch).run()
    return result or 0
