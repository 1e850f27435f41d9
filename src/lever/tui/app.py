"""`lever [PROMPT]`: the interactive app. Every cell comes from the session's event stream.

The session runs on the app's own asyncio loop: a sink posts each event as a Textual message,
turns run as workers so the screen stays live, and approvals park a future that a key press
resolves.

Start-up: the composer is drawn first. Only Textual and the app's own widgets are imported
before that; the session (config, pydantic models, model client, sandbox probe), then the answer
cell's Markdown, load in worker threads afterwards, while keys already work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.worker import WorkerCancelled, WorkerFailed

from lever.config.loader import lever_home
from lever.tui.approval import ApprovalGate
from lever.tui.commands import COMMANDS, run_command
from lever.tui.composer import Composer
from lever.tui.launch import Launch
from lever.tui.plan import PlanPanel
from lever.tui.status import StatusLine
from lever.tui.theme import pick_theme
from lever.tui.transcript import Transcript

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lever.agent.session import Session
    from lever.frontend import Opened


class SessionEvent(Message):
    def __init__(self, session: Session, event: BaseModel, side: bool = False) -> None:
        super().__init__()
        self.session = session
        self.event = event
        #: From a helper session (the `/review` reviewer), decided when it was posted.
        self.side = side


class LeverApp(App[int]):
    CSS_PATH = "lever.tcss"
    TITLE = "lever"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+c", "interrupt_or_quit", "interrupt / quit", priority=True),
        Binding("escape", "interrupt", "interrupt"),
        Binding("ctrl+q", "quit", "quit", priority=True),
        # Priority: the composer (a TextArea) would take them to move its cursor otherwise.
        Binding("pageup", "page(-1)", "scroll up", show=False, priority=True),
        Binding("pagedown", "page(1)", "scroll down", show=False, priority=True),
    ]

    def __init__(self, launch: Launch) -> None:
        # NO_COLOR: Textual's NoColor filter (plain default colours; bold and the like stay)
        # applies only with ANSI colour on; otherwise it would turn colours to shades of grey.
        no_color = os.environ.get("NO_COLOR") is not None
        super().__init__(ansi_color=True if no_color else None)
        self.launch = launch
        theme, problem = pick_theme(launch)
        self.theme = theme
        self.cwd = launch.cwd.resolve()
        self.home = lever_home()
        self.gate = ApprovalGate()
        self.session: Session | None = None
        self.opened: Opened | None = None
        #: A helper session running beside `session` (the `/review` reviewer).
        self.side: Session | None = None
        self.queue: list[str] = []
        self.busy = False
        self.opening = False
        #: The session being built in a worker thread (see `_open`).
        self._building: asyncio.Future[Opened] | None = None
        self._quit_armed = False
        #: Turns whose `turn_finished` has been shown (tests and the bench wait on it).
        self.turns_shown = 0
        self._startup_notice = problem
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
        # The composer is drawn first; the session (config, sandbox probe, client) comes next,
        # in a worker: keys are handled (and messages queued) while it opens.
        self.opening = True
        self.call_after_refresh(self._start_opening)

    def _start_opening(self) -> None:
        self.run_worker(self._first_open(), group="open")

    async def _first_open(self) -> None:
        if self._startup_notice:
            self.notice(self._startup_notice, "error")
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
        from lever.config.providers import ConfigError
        from lever.tui.launch import open_session

        loop = asyncio.get_running_loop()
        building = loop.run_in_executor(None, open_session, self.launch, self.gate.decide, resume)
        self._building = building
        try:
            opened = await asyncio.shield(building)
        except (ConfigError, FileNotFoundError, ValueError) as e:
            self._building = None
            self.notice(str(e), "error")
            return
        if self._building is not building:
            return  # the app closed meanwhile, and closed this session too
        self._building = None
        # Markdown loads off the UI thread while the person reads the banner and types.
        self.run_worker(_load_answer_cell, thread=True)
        session = opened.session
        self.cwd = session.cwd
        for event in opened.past:
            await self._show(event)
        self.session, self.opened = session, opened
        session.subscribe(self._sink(session))
        opened.begin()
        if opened.replayed is not None and opened.replayed.open_turn:
            self._start_turn(None)

    async def _close(self) -> None:
        await self._close_building()
        session, self.session = self.session, None
        if session is None:
            return
        if self.busy:
            (self.side or session).interrupt()
            for worker in [w for w in self.workers if w.group == "turn"]:
                with contextlib.suppress(WorkerCancelled, WorkerFailed):
                    await worker.wait()
        await session.close()

    async def _close_building(self) -> None:
        """Quitting while the session is still being built: it is started and closed like any
        other, so its rollout is a whole one (and its MCP servers are stopped)."""
        building, self._building = self._building, None
        if building is None:
            return
        try:
            opened = await building
        except Exception:
            return  # it never came to be; `_open` reports why
        opened.begin()
        await opened.session.close()

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

    def attach_side(self, session: Session) -> None:
        """Show a helper session's events in the transcript while it runs; esc stops it."""
        self.side = session
        session.subscribe(self._sink(session, side=True))

    # -- events -----------------------------------------------------------------------------

    def _sink(self, session: Session, side: bool = False) -> Callable[[BaseModel], None]:
        def post(event: BaseModel) -> None:
            self.post_message(SessionEvent(session, event, side))

        return post

    async def on_session_event(self, message: SessionEvent) -> None:
        if message.side:
            await self.transcript.apply_side(message.event)
        elif message.session is self.session:
            await self._show(message.event)

    async def _show(self, event: BaseModel) -> None:
        from lever.protocol import (
            ApprovalDecided,
            PlanUpdated,
            SessionStarted,
            TokenUsage,
            TurnFinished,
        )

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
        session = self.session
        if session is not None:
            self.start_job(session.run_turn(text))

    def start_job(self, work: Coroutine[Any, Any, object]) -> None:
        """Run a turn (or a `/review`, a `/compact`): busy until it ends, then the queue goes."""
        self.busy = True
        self.status.info.busy = True
        self.status.refresh_text()
        self.run_worker(self._job(work), group="turn", exit_on_error=False)

    async def _job(self, work: Coroutine[Any, Any, object]) -> None:
        session = self.session
        try:
            await work
        except Exception as e:  # a failing job is reported; the app and session stay usable
            self.notice(f"failed: {type(e).__name__}: {e}", "error")
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
        try:
            await self.session.compact()
        except Exception as e:  # a failed summary request must not take the app down
            self.notice(f"compaction failed: {e}", "error")

    # -- keys -------------------------------------------------------------------------------

    def action_interrupt(self) -> None:
        if not self.busy:
            # Without a mouse, esc is the way back to the composer from a cell.
            self._focus_composer()
            return
        running = self.side or self.session
        if running is not None:
            running.interrupt()
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


def _load_answer_cell() -> None:
    import lever.tui.answer  # noqa: F401


def _hint() -> str:
    from lever.config.providers import CONFIGURE_HINT

    return CONFIGURE_HINT


def run_app(launch: Launch) -> int:
    result = LeverApp(launch).run()
    return result or 0
