"""A session (DESIGN.md §2): the event stream, the history and the lifecycle.

A `Session` owns the history, the event stream and the processes it started. Everything that
happens goes through `emit`, which numbers the event, appends it to the rollout and hands it to
every subscriber (the exec renderer, `--json`, the TUI and the servers). The turn loop itself
(sampling, tool calls, limits) is `lever.agent.turn.TurnRunner`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

import lever
from lever.agent import compaction, overflow
from lever.agent.budget import TokenBudget, context_window_for
from lever.agent.harness_messages import harness_message
from lever.agent.limits import Limits, Usage
from lever.agent.memory import WorkspaceMemory
from lever.agent.options import SessionOptions
from lever.agent.prompts import load_prompt
from lever.agent.resume import Replayed
from lever.agent.state import WorkState
from lever.agent.stuck import StuckDetector
from lever.agent.turn import TurnRunner
from lever.context.agents_md import load_project_docs
from lever.context.skills import discover_skills, render_skills_list
from lever.models import traits
from lever.models.base import ModelClient, ModelError, ModelEvent, ModelRequest
from lever.models.retry import RetryingClient
from lever.protocol import (
    Compaction,
    ErrorEvent,
    ItemAdded,
    PlanUpdated,
    SessionEnded,
    SessionStarted,
    TokenUsage,
    ToolCall,
    ToolFinished,
    ToolOutput,
    TurnFinished,
    UserMessage,
)
from lever.protocol.items import Item
from lever.sandbox.base import NoSandbox, Sandbox
from lever.sandbox.env import command_env
from lever.store.rollout import new_session_id
from lever.tools import apply_patch
from lever.tools.router import ToolRouter

if TYPE_CHECKING:
    from lever.agent.subagents import Lineage

Sink = Callable[[BaseModel], None]


class Session:
    """The event bus, the history and the lifecycle of one session; `TurnRunner` runs its turns.

    Options come as one `SessionOptions`, or as its fields by keyword (`limits=...`).
    """

    def __init__(
        self,
        client: ModelClient,
        *,
        model: str,
        provider: str,
        cwd: Path,
        tools: ToolRouter,
        options: SessionOptions | None = None,
        **fields: Any,
    ) -> None:
        opts = replace(options or SessionOptions(), **fields)
        # Callers may pass None for "the default", as the keyword arguments always allowed.
        opts.limits = opts.limits or Limits()
        opts.config = opts.config or {}
        self.options = opts
        self.id = opts.session_id or new_session_id()
        self.model = model
        self.provider = provider
        self.cwd = cwd.resolve()
        self.router = tools
        self.instructions = (
            opts.instructions if opts.instructions is not None else load_prompt("system")
        )
        self.limits = opts.limits
        self.rollout = opts.rollout
        self.sandbox: Sandbox = opts.sandbox or NoSandbox()
        self.approvals = opts.approvals
        self.env = opts.env if opts.env is not None else command_env(os.environ)
        self.config = opts.config
        self.client = RetryingClient(
            client,
            max_retries=opts.max_retries,
            base_delay=opts.retry_base_delay,
            on_retry=self._on_retry,
        )
        self.history: list[Item] = []
        #: What the whole session spent; each task's own spending is `runner.task`.
        self.usage = Usage()
        self.budget = opts.budget or TokenBudget(context_window_for(model))
        self.home = opts.home
        self.remote_compaction = opts.remote_compaction
        #: Plan, files touched, last test run: derived from the events this session emits.
        self.state = WorkState()
        #: Off by default: scripted runs and polls of a running process legitimately repeat.
        self.stuck = StuckDetector() if opts.stuck_detection else None
        self.memory = WorkspaceMemory(self.cwd, opts.memory)
        self._history_bytes = 0
        #: Compacting again before the model has answered once would loop (`TurnRunner`).
        self.compacted_since_sample = False
        #: A turn has begun and not finished (also true after restoring a crashed session).
        self.open_turn = False
        self._sinks: list[Sink] = []
        self._seq = 0
        #: The output cap sent with each request; None: the client's (or provider's) default.
        self.max_output_tokens: int | None = None
        self.runner = TurnRunner(self)
        #: A sub-agent's parent, set by the flow that opens it; `start()` records it.
        self.lineage: Lineage | None = None

    # -- the event stream -------------------------------------------------------------------

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, event: BaseModel) -> None:
        # Recorded events are numbered 1, 2, 3… with no gaps, so a rollout shows at a glance
        # that nothing was lost; a live-only event (a delta) shares the number of the last one.
        if not getattr(event, "ephemeral", False):
            self._seq += 1
        event.seq = self._seq  # type: ignore[attr-defined]
        event.ts = time.time()  # type: ignore[attr-defined]
        if self.rollout is not None and not getattr(event, "ephemeral", False):
            recording = self.rollout.full is None
            self.rollout.append(event)
            if recording and self.rollout.full is not None:
                # Nothing more can be recorded: stop the task (exit 3) rather than go on
                # with work that a resume would not know of.
                self.runner.stop(self.rollout.full)
        self.state.observe(event)
        if isinstance(event, PlanUpdated):
            self.memory.write_plan(self.state)
        for sink in self._sinks:
            sink(event)

    def add(self, item: Item) -> None:
        self.history.append(item)
        self._history_bytes += size_of(item)
        self.emit(ItemAdded(item=item))

    def add_note(self, tag: str, body: str) -> None:
        """A harness message between turns (a `/review` report): the next request carries it."""
        self.add(harness_message(tag, body))

    def count(self, usage: TokenUsage) -> None:
        """Tokens a request spent: the session's and the running task's (limits use it)."""
        for spent in (self.usage, self.runner.task):
            spent.add(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens)
        self.emit(usage)

    def _on_retry(self, error: ModelError, attempt: int, delay: float) -> None:
        self.emit(
            ErrorEvent(
                message=f"{error} — retrying in {delay:.1f} s",
                retrying=True,
                attempt=attempt,
                kind="stream" if error.status is None else f"http_{error.status}",
            )
        )

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Announce the session and put the environment context at the head of the history."""
        self.emit(
            SessionStarted(
                session_id=self.id,
                cwd=str(self.cwd),
                model=self.model,
                provider=self.provider,
                sandbox=self.sandbox.policy.mode,
                approval=self.approvals.policy if self.approvals else "never",
                instructions=self.instructions,
                tools=[vars(schema) for schema in self.router.schemas()],
                config=self.config,
                lever_version=lever.__version__,
                limits=asdict(self.limits),
                **(self.lineage.recorded() if self.lineage else {}),
            )
        )
        self.add(self._environment_context())
        for block in self._project_context():
            self.add(UserMessage(text=block))

    def restore(self, replayed: Replayed) -> None:
        """Continue a recorded session instead of `start()`: same id, same history, same state.

        Tool calls the dead process never answered get an "interrupted" output, so the history
        keeps one output per call; an unfinished turn is then continued by `run_turn(None)`.
        """
        self.history = list(replayed.history)
        self._history_bytes = sum(size_of(item) for item in self.history)
        self.state = replayed.state
        if replayed.context_window:
            self.budget.learn(replayed.context_window)
        self._seq = replayed.last_seq
        # The recorded start, with what this run really uses: a resume that changed the model
        # or narrowed (or, with --widen, widened) the sandbox says so in its own rollout.
        self.emit(replayed.started.model_copy(update=self._started_now()))
        if replayed.seed is not None:
            self.emit(replayed.seed)
        self.answer_dangling_calls("interrupted: lever stopped before the command finished")
        self.open_turn = replayed.open_turn

    def _started_now(self) -> dict[str, Any]:
        return {
            "lever_version": lever.__version__,
            "model": self.model,
            "provider": self.provider,
            "sandbox": self.sandbox.policy.mode,
            "approval": self.approvals.policy if self.approvals else "never",
            "config": self.config,
            "limits": asdict(self.limits),
        }

    def _project_context(self) -> list[str]:
        """AGENTS.md files and the skills list: part of the fixed prefix, each its own block."""
        if self.home is None:
            return []
        docs = load_project_docs(self.cwd, self.home).render()
        skills = render_skills_list(discover_skills(self.cwd, self.home))
        return [block for block in (docs, skills) if block]

    def _environment_context(self) -> UserMessage:
        return harness_message(
            "environment_context",
            f"<cwd>{self.cwd}</cwd>\n<shell>bash</shell>\n"
            f"<sandbox>{self.sandbox.policy.mode} ({self.sandbox.name})</sandbox>\n"
            f"<approval_policy>{self.approvals.policy if self.approvals else 'never'}"
            "</approval_policy>\n"
            f"<context_window>{self.budget.context_window} tokens</context_window>",
        )

    async def close(self, reason: str = "done") -> None:
        await self._close_tools()
        await self.client.aclose()
        self.emit(SessionEnded(reason=reason))
        if self.rollout is not None:
            self.rollout.close()

    async def _close_tools(self) -> None:
        for tool in self.router.tools.values():
            closer = getattr(tool, "aclose", None)
            if closer is not None:
                await closer()

    # -- turns ----------------------------------------------------------------------------

    async def run_turn(self, text: str | None) -> TurnFinished:
        """Run one user turn to its end; `None` continues the open turn of a restored session.

        `interrupt()` ends it early; the session stays usable.
        """
        return await self.runner.run_turn(text)

    def interrupt(self) -> None:
        self.runner.interrupt()

    def request(self) -> ModelRequest:
        extra: dict[str, Any] = {}
        if getattr(self.client, "wire", "") == "openai-responses":
            extra["prompt_cache_key"] = self.id  # one cache lineage per session
        return ModelRequest(
            instructions=self.instructions,
            tools=self.router.schemas(),
            items=list(self.history),
            model=self.model,
            max_output_tokens=self.max_output_tokens,
            extra=extra,
            reasoning=traits.reasoning_for(self.model, self.options.model_options),
            freeform=self._freeform_tools(),
        )

    def _freeform_tools(self) -> tuple[traits.FreeformTool, ...]:
        """apply_patch as a freeform tool, for the model families trained on that form."""
        if "apply_patch" not in self.router.tools:
            return ()
        if not traits.freeform_apply_patch(self.model, self.options.model_options):
            return ()
        description, grammar = apply_patch.FREEFORM_DESCRIPTION, apply_patch.freeform_grammar()
        return (traits.FreeformTool("apply_patch", description, grammar),)

    def raise_output_cap(self) -> int | None:
        """After a reply cut at the output limit: ask for the model's largest cap from now on,
        where the client knows a larger one (Anthropic's default is far below most models')."""
        larger = getattr(self.client.inner, "larger_output_cap", None)
        cap = larger(self.model, self.max_output_tokens) if larger is not None else None
        if cap is not None:
            self.max_output_tokens = cap
        return cap

    def _request_bytes(self) -> int:
        fixed = len(self.instructions) + sum(len(str(s)) for s in self.router.schemas())
        return fixed + self._history_bytes

    def estimated_tokens(self) -> int:
        return self.budget.estimate(self._request_bytes())

    async def compact(self) -> Compaction:
        """Replace the history with the hand-off (DESIGN.md §6); also `/compact` on demand."""
        self.memory.compacted = True
        self.memory.write_plan(self.state)
        snapshot = await compaction.environment_snapshot(self.cwd, self.state, self.memory.read())
        remote = getattr(self.client.inner, "compact", None) if self.remote_compaction else None
        if remote is not None:
            # The provider compacts; its opaque result replaces the history after the prefix.
            items = await remote(self.request())
            summary = "(compacted by the provider: opaque)"
            self.history = compaction.rebuild_from_remote(self.history, self.state, items, snapshot)
        else:
            save = overflow.dropped_saver(self.rollout.artifacts_dir if self.rollout else None)
            # The summary request's tokens count against the task's limits like any other.
            summary = await compaction.summarize(
                CountingClient(self), self.request(), self.budget, save
            )
            budget_chars = int(
                self.budget.effective_window
                * self.budget.bytes_per_token
                * compaction.USER_MESSAGES_SHARE
            )
            self.history = compaction.rebuild_history(
                self.history, self.state, summary, snapshot, budget_chars
            )
        running = self._running_processes()
        if running:
            self.history.append(harness_message("running_processes", running))
        self._history_bytes = sum(size_of(item) for item in self.history)
        self.compacted_since_sample = True
        window = self.budget.learned_window  # the provider's limit, kept across a resume
        event = Compaction(summary=summary, kept=list(self.history), context_window=window)
        self.emit(event)
        return event

    def _running_processes(self) -> str:
        """The background commands still alive, so the model keeps knowing their ids."""
        processes = getattr(self.router.tools.get("shell"), "processes", None)
        ids = processes.running_ids() if processes is not None else []
        if not ids:
            return ""
        known = self.state.background
        lines = [f"{pid}: {known.get(pid, '(command not recorded)')}" for pid in ids]
        return (
            "These commands you started are still running in the background; poll one with "
            'shell and `{"process_id": ...}`, stop one with `"kill": true`:\n' + "\n".join(lines)
        )

    # -- every call answered ----------------------------------------------------------------

    def answer_call(self, call: ToolCall, why: str, exit_code: int | None, ms: int) -> None:
        self.emit(
            ToolFinished(
                call_id=call.call_id,
                name=call.name,
                exit_code=exit_code,
                duration_ms=ms,
                full_output=why,
                is_error=True,
            )
        )
        self.add(ToolOutput(call_id=call.call_id, output=f"error: {why}", is_error=True))

    def answer_dangling_calls(self, why: str) -> None:
        """Every tool call gets exactly one output, interrupted ones included."""
        answered = {item.call_id for item in self.history if isinstance(item, ToolOutput)}
        for item in self.history:
            if isinstance(item, ToolCall) and item.call_id not in answered:
                self.answer_call(item, why, None, 0)


class CountingClient:
    """The session's client, with each response's token usage counted (`Session.count`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.wire = session.client.wire

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        async for event in self.session.client.stream(request):
            if isinstance(event, TokenUsage):
                self.session.count(event)
            yield event

    async def aclose(self) -> None:
        await self.session.client.aclose()


def size_of(item: Item) -> int:
    """Bytes an item adds to a request, near enough for budgeting."""
    return len(item.model_dump_json())
