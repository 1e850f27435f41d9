"""Sub-agents (DESIGN.md §4): a `spawn_agent` call runs a child session for a subtask.

A child is an ordinary session, opened by the front-end flow (`lever.frontend`, through the
`ChildFlow` it gives the `Spawner`): the same model, configuration and approval policy as its
parent, a sandbox as narrow or narrower, its own rollout. It starts with a fresh context (the
task is its only message) and runs one turn to its end; its final message (and, in worktree
mode, its diff) is the tool's output. Whatever goes wrong with it comes back as a tool error.

Bounds, from `[subagents]`: depth (a child at `max_depth` cannot spawn), count (`max_concurrent`
at once, `max_total` per session) and budget: a child's tokens count toward its parent's task as
they are spent, its token limit is at most what the parent has left, its time limit what is left
of the parent's; a child that would take the parent past its token limit is stopped. Children
run inside the parent's tool call, so interrupting the parent interrupts them.

Events: the parent records `child_started` (with the child's id and rollout) and
`child_finished`; every child event is forwarded live as an ephemeral `child_event`. Approval
requests of a child are also emitted as they are in the parent's stream, so the front end that
answers the parent's answers the child's. The child's own `session_started` names its parent,
the call and its depth (`Lineage`): resuming a child keeps its depth, and `lever sessions` lists
it under its parent. A resumed parent's count of children goes on from its recorded
`child_started` events (`Replayed.children`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from lever.agent.limits import Limits
from lever.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    ChildEvent,
    ChildFinished,
    ChildStarted,
    TokenUsage,
    TurnFinished,
)
from lever.store.rollout import new_session_id
from lever.tools.base import ToolResult

if TYPE_CHECKING:
    from lever.agent.session import Session
    from lever.fleet.workspace import Source, Workspace

#: `git worktree add` on one repository is not safe to run concurrently.
_GIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class SubagentSettings:
    """`[subagents]` in the configuration."""

    enabled: bool = True
    max_depth: int = 1
    max_concurrent: int = 4
    max_total: int = 8
    max_turns: int = 50
    max_tokens: int | None = None
    diff_max_bytes: int = 20_000

    @classmethod
    def from_config(cls, config: dict[str, Any], small_model: bool = False) -> SubagentSettings:
        """Small local models are off by default: one more tool confuses them more than it
        helps."""
        table = config.get("subagents") or {}
        values = {name: value for name, value in table.items() if value is not None}
        values.setdefault("enabled", not small_model)
        return cls(**values)


@dataclass(frozen=True)
class ChildRequest:
    """What the model asked for (checked by `lever.tools.spawn_agent`)."""

    task: str
    mode: str = "read-only"
    max_turns: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Lineage:
    """Where a child comes from, recorded in its `session_started`: a rollout alone says whose
    sub-agent it was (`lever sessions` lists it under its parent) and how deep it may spawn."""

    parent_id: str
    call_id: str
    #: 1: a child of the person's session.
    depth: int

    def recorded(self) -> dict[str, Any]:
        """The `session_started` fields."""
        return {"parent_id": self.parent_id, "parent_call_id": self.call_id, "depth": self.depth}


@dataclass(frozen=True)
class ChildSetup:
    """What the flow opens a child with."""

    session_id: str
    cwd: Path
    #: "read-only", or the parent's own mode for a child in a worktree.
    sandbox_mode: str
    approval: str
    limits: Limits
    lineage: Lineage


class ChildFlow(Protocol):
    """The front-end flow, seen from here: open a child session, drive it and close it."""

    def open(self, setup: ChildSetup) -> Session: ...

    async def drive(self, session: Session, task: str) -> TurnFinished: ...


@dataclass
class ChildTree:
    """A worktree-mode child's tree: made from the parent's current state, removed after."""

    source: Source
    workspace: Workspace
    base: str
    scratch: Path

    @property
    def cwd(self) -> Path:
        return self.workspace.path / self.source.cwd_rel

    @classmethod
    def create(cls, cwd: Path, child_id: str) -> ChildTree:
        from lever.fleet import workspace

        source = workspace.inspect(cwd)
        scratch = Path(tempfile.mkdtemp(prefix=f"lever-child-{child_id[:8]}-"))
        try:
            workspace.snapshot(source, scratch / "snapshot")
            with _GIT_LOCK:
                ws = workspace.create(
                    source,
                    scratch / "snapshot",
                    scratch / "tree",
                    f"lever/subagent/{child_id}",
                    scratch / "git",
                )
            return cls(source, ws, workspace.base_tree(ws), scratch)
        except BaseException:
            cls._remove(source, scratch, f"lever/subagent/{child_id}")
            raise

    def diff(self) -> tuple[str, Any]:
        from lever.fleet import workspace

        return workspace.diff(self.workspace, self.base)

    def remove(self) -> None:
        self._remove(self.source, self.scratch, self.workspace.branch)

    @staticmethod
    def _remove(source: Source, scratch: Path, branch: str | None) -> None:
        from lever.fleet import workspace

        try:
            with _GIT_LOCK:
                workspace.remove(source.root, source.git, scratch / "tree", branch)
        except workspace.WorkspaceError:
            pass  # the scratch folder goes below; a stale worktree entry is pruned by git
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class _Outcome:
    """How a child ended, for the parent's event and the tool's output."""

    reason: str
    detail: str = ""
    last_message: str = ""
    diff: str = ""
    diff_path: Path | None = None
    stat: Any = None


class Spawner:
    """The parent's side: checks the bounds, runs each child, reports it."""

    def __init__(
        self,
        parent: Session,
        flow: ChildFlow,
        settings: SubagentSettings,
        depth: int = 0,
        started: int = 0,
    ) -> None:
        self.parent = parent
        self.flow = flow
        self.settings = settings
        #: The parent's own depth (0: the person's session).
        self.depth = depth
        self.running = 0
        #: Children started in this session, counting those of its rollout before a resume
        #: (`started`, its `child_started` events): `max_total` holds across resumes.
        self.total = started

    async def spawn(self, call_id: str, request: ChildRequest) -> ToolResult:
        refusal = self.refusal(request)
        if refusal is not None:
            return ToolResult(f"error: spawn_agent refused: {refusal}", is_error=True)
        self.running += 1
        self.total += 1
        try:
            return await self._run(call_id, request)
        finally:
            self.running -= 1

    def refusal(self, request: ChildRequest) -> str | None:
        """Why no child may start now, or None."""
        s = self.settings
        if self.depth >= s.max_depth:
            return (
                f"a sub-agent at depth {self.depth} cannot start sub-agents of its own "
                f"([subagents] max_depth = {s.max_depth}); do the subtask yourself"
            )
        if self.running >= s.max_concurrent:
            return (
                f"{self.running} sub-agents are running, the most at once ([subagents] "
                f"max_concurrent = {s.max_concurrent}); wait for one to finish"
            )
        if self.total >= s.max_total:
            return (
                f"this session has started {self.total} sub-agents, its limit ([subagents] "
                f"max_total = {s.max_total}); do the rest yourself"
            )
        if request.mode == "worktree" and self.parent.sandbox.policy.mode == "read-only":
            return "worktree mode needs a writable sandbox and this session's is read-only"
        left = self._tokens_left()
        if left is not None and left <= 0:
            return "this task's token budget is spent"
        seconds = self.parent.runner.task.seconds_left(self.parent.limits)
        if seconds is not None and seconds < 1:
            return "this task's time limit is reached"
        return None

    def _tokens_left(self) -> int | None:
        limit = self.parent.limits.max_tokens
        return None if limit is None else limit - self.parent.runner.task.total_tokens

    def limits_for(self, request: ChildRequest) -> Limits:
        """The child's limits: what it asked, within `[subagents]` and the parent's budget."""
        turns = [n for n in (request.max_turns, self.settings.max_turns) if n is not None]
        tokens = [
            n
            for n in (request.max_tokens, self.settings.max_tokens, self._tokens_left())
            if n is not None
        ]
        return Limits(
            max_turns=min(turns),
            max_tokens=min(tokens) if tokens else None,
            max_seconds=self.parent.runner.task.seconds_left(self.parent.limits),
        )

    def _setup(self, call_id: str, request: ChildRequest, cwd: Path) -> ChildSetup:
        parent = self.parent
        mode = "read-only" if request.mode == "read-only" else parent.sandbox.policy.mode
        approval = parent.approvals.policy if parent.approvals else "never"
        limits = self.limits_for(request)
        lineage = Lineage(parent.id, call_id, self.depth + 1)
        return ChildSetup(new_session_id(), cwd, mode, approval, limits, lineage)

    async def _run(self, call_id: str, request: ChildRequest) -> ToolResult:
        tree: ChildTree | None = None
        setup = self._setup(call_id, request, self.parent.cwd)
        try:
            if request.mode == "worktree":
                tree = await asyncio.to_thread(ChildTree.create, self.parent.cwd, setup.session_id)
                setup = replace(setup, cwd=tree.cwd)
            child = self.flow.open(setup)
        except Exception as e:
            # It never started (no `child_started`, which a resume counts): its place in
            # `max_total` is given back.
            self.total -= 1
            if tree is not None:
                tree.remove()
            why = f"the sub-agent could not start: {type(e).__name__}: {e}"
            return ToolResult(f"error: {why}", is_error=True)
        try:
            return await self._drive(call_id, request, child, tree)
        finally:
            if tree is not None:
                tree.remove()  # blocking, but short, and it must happen even when cancelled

    async def _drive(
        self, call_id: str, request: ChildRequest, child: Session, tree: ChildTree | None
    ) -> ToolResult:
        parent = self.parent
        rollout = str(child.rollout.path) if child.rollout else None
        parent.emit(
            ChildStarted(
                call_id=call_id,
                child_id=child.id,
                task=request.task,
                mode=request.mode,
                cwd=str(child.cwd),
                rollout=rollout,
                depth=self.depth + 1,
                limits=asdict(child.limits),
            )
        )
        over: list[str] = []
        child.subscribe(self._forwarder(call_id, child, over))
        outcome = _Outcome("crashed")
        try:
            try:
                child.start()
            except BaseException:
                await child.close("error")
                raise
            finished = await self._until_done(child, request.task)
            outcome = _Outcome(finished.reason, finished.detail, finished.last_message)
            if over and finished.reason == "interrupted":
                outcome = _Outcome("limit", over[0], finished.last_message)
            if tree is not None:
                await asyncio.to_thread(self._take_diff, tree, child, outcome)
        except asyncio.CancelledError:
            outcome = _Outcome("interrupted", "the parent was interrupted")
            raise
        except Exception as e:
            outcome = _Outcome("crashed", f"{type(e).__name__}: {e}")
        finally:
            parent.emit(self._finished_event(call_id, child, outcome))
        return self._result(child, outcome)

    async def _until_done(self, child: Session, task: str) -> TurnFinished:
        """Drive the child in a task of its own: when the parent is cancelled, the child is
        interrupted as a person would interrupt it, and records its turn's end."""
        running = asyncio.ensure_future(self.flow.drive(child, task))
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            if child.runner.running:
                child.interrupt()
            else:
                running.cancel()  # not in its turn yet (or already closing)
            try:
                await running
            except asyncio.CancelledError:
                running.cancel()  # cancelled again while waiting: no more patience
            except Exception:
                pass
            raise

    def _forwarder(self, call_id: str, child: Session, over: list[str]) -> Any:
        parent = self.parent

        def forward(event: BaseModel) -> None:
            data = event.model_dump(mode="json", exclude_none=True)
            parent.emit(ChildEvent(call_id=call_id, child_id=child.id, event=data))
            if isinstance(event, ApprovalRequested | ApprovalDecided):
                # The front end answering the parent's requests sees the child's the same way.
                parent.emit(event.model_copy())
            if isinstance(event, TokenUsage):
                # The child's spending is the parent's: its task's limits see it at once.
                for spent in (parent.usage, parent.runner.task):
                    spent.add(event.input_tokens, event.output_tokens, event.cached_input_tokens)
                left = self._tokens_left()
                if left is not None and left <= 0 and not over:
                    limit = parent.limits.max_tokens
                    over.append(f"the parent's token limit was reached ({limit} tokens)")
                    child.interrupt()

        return forward

    def _take_diff(self, tree: ChildTree, child: Session, outcome: _Outcome) -> None:
        outcome.diff, outcome.stat = tree.diff()
        rollout = self.parent.rollout
        if outcome.diff and rollout is not None:
            # Kept beside the parent's rollout, where its commands may read it (`git apply`).
            folder = rollout.artifacts_dir
            folder.mkdir(parents=True, exist_ok=True)
            outcome.diff_path = folder / f"child-{child.id}.diff"
            outcome.diff_path.write_text(outcome.diff, encoding="utf-8")

    def _finished_event(self, call_id: str, child: Session, outcome: _Outcome) -> ChildFinished:
        stat = outcome.stat
        return ChildFinished(
            call_id=call_id,
            child_id=child.id,
            reason=outcome.reason,
            detail=outcome.detail,
            last_message=outcome.last_message,
            tokens=child.usage.total_tokens,
            turns=child.usage.requests,
            files_changed=stat.files if stat else 0,
            lines_added=stat.added if stat else 0,
            lines_removed=stat.removed if stat else 0,
            diff_path=str(outcome.diff_path) if outcome.diff_path else None,
        )

    def _result(self, child: Session, outcome: _Outcome) -> ToolResult:
        spent = f"{child.usage.requests} model requests, {child.usage.total_tokens} tokens"
        if outcome.reason == "done":
            head = f"sub-agent {child.id} finished ({spent}). Its answer:"
        else:
            why = f"{outcome.reason}: {outcome.detail}" if outcome.detail else outcome.reason
            head = f"error: the sub-agent {child.id} did not finish ({why}; {spent})."
            if outcome.last_message:
                head += " Its last message:"
        parts = [head]
        if outcome.last_message:
            parts.append(outcome.last_message.strip())
        if outcome.stat is not None:
            parts.append(self._diff_text(outcome))
        return ToolResult("\n\n".join(parts), is_error=outcome.reason != "done")

    def _diff_text(self, outcome: _Outcome) -> str:
        stat = outcome.stat
        if not outcome.diff:
            return "It changed no files."
        where = (
            f"; the whole diff is in {outcome.diff_path} (apply it with `git apply "
            f"{outcome.diff_path}`)"
            if outcome.diff_path
            else ""
        )
        text = outcome.diff
        cap = self.settings.diff_max_bytes
        cut = ""
        if len(text.encode()) > cap:
            text = text.encode()[:cap].decode(errors="ignore")
            cut = f"\n[diff cut at {cap} bytes]"
        summary = f"Its diff: {stat.files} files, +{stat.added} -{stat.removed}{where}"
        return f"{summary}\n```diff\n{text.rstrip()}{cut}\n```"
