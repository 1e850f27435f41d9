"""New tasks from the page: sessions run inside the server through the one front-end flow.

`lever.frontend` opens each session exactly as `lever exec`, the TUI and the app-server do
(configuration, model, sandbox, approval policy, limits, rollout), and drives its turn in the
server's event loop — the same way the app-server and fleets run several sessions in one
process. The task belongs to the server, not to the page: closing the browser changes nothing.
When the approval policy asks, the turn waits for the page's answer (`answer()`); the page sees
the request as the `approval_requested` event in the rollout it streams, and asks `/api/tasks`
which requests are still open. Interrupt is the session's own (`Session.interrupt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever import frontend
from lever.agent.session import Session
from lever.config.providers import ConfigError
from lever.protocol import ApprovalRequested, ErrorEvent, TurnFinished
from lever.sandbox.approval import DECISIONS, Decide, Decision
from lever.store.rollout import new_session_id, session_dir

SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
#: A person is watching the page, so by default the model may ask (as in the app-server).
APPROVALS = ("on-request", "untrusted", "on-failure", "never")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
_URL = re.compile(r"^https?://[^\s]{1,500}$")


class TaskError(ValueError):
    """A task that cannot start (or an answer that cannot be given); shown to the person."""


@dataclass
class TaskRequest:
    prompt: str
    cwd: str
    model: str = ""
    provider: str = ""
    base_url: str = ""
    sandbox: str = "workspace-write"
    approval: str = "on-request"

    def check(self, projects: set[str]) -> None:
        if not self.prompt.strip():
            raise TaskError("the prompt is empty")
        if self.cwd not in projects or not Path(self.cwd).is_dir():
            raise TaskError("choose the folder from the known projects")
        if self.sandbox not in SANDBOXES:
            raise TaskError(f"sandbox must be one of {', '.join(SANDBOXES)}")
        if self.approval not in APPROVALS:
            raise TaskError(f"approval must be one of {', '.join(APPROVALS)}")
        for label, value in (("model", self.model), ("provider", self.provider)):
            if value and not _NAME.match(value):  # never an option in disguise (`--foo`)
                raise TaskError(f"{label} {value!r} is not a valid name")
        if self.base_url and not _URL.match(self.base_url):
            raise TaskError("base URL must start with http:// or https://")

    def frontend_request(self, session_id: str) -> frontend.Request:
        return frontend.Request(
            cwd=Path(self.cwd),
            provider=self.provider or None,
            model=self.model or None,
            base_url=self.base_url or None,
            sandbox=self.sandbox,
            approval=self.approval,
            session_id=session_id,
        )


@dataclass
class Task:
    session_id: str
    session: Session | None = None
    started: float = field(default_factory=time.time)
    turn: asyncio.Task[None] | None = None
    #: Open approval requests by call id: what was asked and where the answer goes.
    pending: dict[str, tuple[ApprovalRequested, asyncio.Future[Decision]]] = field(
        default_factory=dict
    )
    reason: str | None = None
    #: An interrupt that came before the turn began (see `TaskRunner._run`).
    interrupted: bool = False

    @property
    def running(self) -> bool:
        return self.turn is not None and not self.turn.done()

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "started": self.started,
            "running": self.running,
            "reason": self.reason,
            "pending": [
                {"call_id": call_id, **request.model_dump(include=_SHOWN)}
                for call_id, (request, answer) in self.pending.items()
                if not answer.done()  # answered: the turn goes on at the loop's next step
            ],
        }


_SHOWN = {"kind", "command", "paths", "cwd", "reason", "justification", "seq"}


class TaskRunner:
    """The server's background sessions, by session id."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.tasks: dict[str, Task] = {}

    def _decider(self, task: Task) -> Decide:
        async def decide(request: ApprovalRequested) -> Decision:
            future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
            task.pending[request.call_id] = (request, future)
            try:
                return await future
            finally:
                task.pending.pop(request.call_id, None)

        return decide

    async def start(self, request: TaskRequest) -> Task:
        """Open the session (in a worker thread: building one starts its MCP servers), begin
        it, and run its turn in the background."""
        task = Task(new_session_id())
        wanted = request.frontend_request(task.session_id)

        def build() -> frontend.Opened:
            plan = frontend.prepare(wanted)
            # The sessions this server shows: the rollout lands in the server's home.
            plan.rollout_path = session_dir(self.home) / f"rollout-{task.session_id}.jsonl"
            return frontend.build(plan, self._decider(task))

        try:
            opened = await asyncio.to_thread(build)
        except (ConfigError, OSError, ValueError) as exc:
            raise TaskError(str(exc).strip() or type(exc).__name__) from exc
        task.session = opened.session
        opened.begin()
        self.tasks[task.session_id] = task
        task.turn = asyncio.create_task(self._run(task, request.prompt))
        return task

    async def _run(self, task: Task, prompt: str) -> None:
        session = task.session
        assert session is not None
        if task.interrupted:  # interrupted before the turn could begin
            session.emit(TurnFinished(reason="interrupted", detail="interrupted by the user"))
            task.reason = "interrupted"
            await frontend.close(session, "interrupted")
            return
        try:
            finished = await frontend.drive(session, [prompt])
            task.reason = finished.reason
        except Exception as exc:  # a bug must not kill the server: the turn ends as an error
            traceback.print_exc(file=sys.stderr)
            session.emit(ErrorEvent(message=f"internal error: {exc}", kind="internal"))
            task.reason = "error"

    def answer(self, session_id: str, call_id: str, decision: str) -> None:
        task = self.tasks.get(session_id)
        if task is None:
            raise TaskError("no task with this id runs in this server")
        if decision not in DECISIONS:
            raise TaskError(f"decision must be one of {', '.join(DECISIONS)}")
        waiting = task.pending.get(call_id)
        if waiting is None or waiting[1].done():
            raise TaskError(f"no approval is waiting for call {call_id!r}")
        waiting[1].set_result(decision)  # type: ignore[arg-type]

    def interrupt(self, session_id: str) -> bool:
        """As Ctrl-C in a terminal: the turn ends as "interrupted" (a waiting approval too)."""
        task = self.tasks.get(session_id)
        if task is None or not task.running or task.session is None:
            return False
        task.interrupted = True
        task.session.interrupt()
        return True

    async def wait(self, session_id: str, timeout: float) -> str | None:
        """Until the task's turn has ended and its session closed; how it ended."""
        task = self.tasks[session_id]
        if task.turn is not None:
            await asyncio.wait_for(asyncio.shield(task.turn), timeout)
        return task.reason

    async def shutdown(self, grace: float = 5.0) -> None:
        """The server stops: interrupt what still runs, then cancel what does not end (the
        session is closed either way, which kills its commands)."""
        for session_id in list(self.tasks):
            self.interrupt(session_id)
        for task in self.tasks.values():
            if task.turn is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(task.turn), grace)
            except TimeoutError:
                task.turn.cancel()
                with contextlib.suppress(BaseException):
                    await task.turn
