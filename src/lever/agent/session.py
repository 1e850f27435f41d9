"""The turn loop (DESIGN.md §3): sample the model, run its tool calls, repeat until it answers.

A `Session` owns the history, the event stream and the processes it started. Everything that
happens goes through `emit`, which numbers the event, appends it to the rollout and hands it to
every subscriber (the exec renderer, `--json`, later the TUI and the servers).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import lever
from lever.agent import compaction
from lever.agent.budget import TokenBudget, context_window_for
from lever.agent.harness_messages import harness_message, tool_call_error
from lever.agent.limits import Limits, Usage
from lever.agent.memory import WorkspaceMemory
from lever.agent.prompts import load_prompt
from lever.agent.resume import Replayed
from lever.agent.state import WorkState
from lever.agent.stuck import StuckDetector
from lever.context.agents_md import load_project_docs
from lever.context.skills import discover_skills, render_skills_list
from lever.models.base import (
    AuthError,
    ContextLengthError,
    MalformedResponseError,
    ModelClient,
    ModelError,
    ModelRequest,
    ToolCallParseError,
)
from lever.models.retry import RetryingClient
from lever.protocol import (
    AssistantMessage,
    Compaction,
    ErrorEvent,
    ItemAdded,
    PlanUpdated,
    SessionEnded,
    SessionStarted,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolFinished,
    ToolOutput,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from lever.protocol.items import Item
from lever.sandbox.approval import Approvals
from lever.sandbox.base import NoSandbox, Sandbox
from lever.sandbox.env import command_env
from lever.store.rollout import RolloutWriter, new_session_id
from lever.tools.base import ToolContext, ToolResult
from lever.tools.router import ToolRouter

Sink = Callable[[BaseModel], None]

#: A reply that cannot be parsed at all is asked for again this many times, then the turn fails.
MALFORMED_ATTEMPTS = 3


class Session:
    def __init__(
        self,
        client: ModelClient,
        *,
        model: str,
        provider: str,
        cwd: Path,
        tools: ToolRouter,
        instructions: str | None = None,
        limits: Limits | None = None,
        rollout: RolloutWriter | None = None,
        session_id: str | None = None,
        sandbox: Sandbox | None = None,
        env: dict[str, str] | None = None,
        max_retries: int = 4,
        retry_base_delay: float = 0.5,
        config: dict[str, Any] | None = None,
        budget: TokenBudget | None = None,
        home: Path | None = None,
        approvals: Approvals | None = None,
        remote_compaction: bool = False,
        stuck_detection: bool = False,
        memory: str = "off",
    ) -> None:
        self.id = session_id or new_session_id()
        self.model = model
        self.provider = provider
        self.cwd = cwd.resolve()
        self.router = tools
        self.instructions = instructions if instructions is not None else load_prompt("system")
        self.limits = limits or Limits()
        self.rollout = rollout
        self.sandbox: Sandbox = sandbox or NoSandbox()
        #: Approval policy, cache and the front end's answer; None: no gate (tests, embedding).
        self.approvals = approvals
        self.env = env if env is not None else command_env(os.environ)
        self.config = config or {}
        self.client = RetryingClient(
            client, max_retries=max_retries, base_delay=retry_base_delay, on_retry=self._on_retry
        )
        self.history: list[Item] = []
        self.usage = Usage()
        self.budget = budget or TokenBudget(context_window_for(model))
        #: Where the personal AGENTS.md and skills live; None reads no project context (tests).
        self.home = home
        #: Use the provider's own compaction endpoint where the client has one (Responses API).
        self.remote_compaction = remote_compaction
        #: Plan, files touched, last test run: derived from the events this session emits.
        self.state = WorkState()
        #: Small models repeat their last call instead of answering: nudge, then stop as stuck.
        #: Off by default: scripted runs and polls of a running process legitimately repeat.
        self.stuck = StuckDetector() if stuck_detection else None
        self.memory = WorkspaceMemory(self.cwd, memory)
        self._history_bytes = 0
        #: Compacting again before the model has answered once would loop; see `_ensure_room`.
        self._compacted_since_sample = False
        #: A turn has begun and not finished (also true after restoring a crashed session).
        self.open_turn = False
        self._sinks: list[Sink] = []
        self._seq = 0
        self._turn: asyncio.Task[TurnFinished] | None = None

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
            self.rollout.append(event)
        self.state.observe(event)
        if isinstance(event, PlanUpdated):
            self.memory.write_plan(self.state)
        for sink in self._sinks:
            sink(event)

    def _add(self, item: Item) -> None:
        self.history.append(item)
        self._history_bytes += _size(item)
        self.emit(ItemAdded(item=item))

    def add_note(self, tag: str, body: str) -> None:
        """A harness message between turns (a `/review` report): the next request carries it."""
        self._add(harness_message(tag, body))

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
            )
        )
        self._add(self._environment_context())
        for block in self._project_context():
            self._add(UserMessage(text=block))

    def restore(self, replayed: Replayed) -> None:
        """Continue a recorded session instead of `start()`: same id, same history, same state.

        Tool calls the dead process never answered get an "interrupted" output, so the history
        keeps one output per call; an unfinished turn is then continued by `run_turn(None)`.
        """
        self.history = list(replayed.history)
        self._history_bytes = sum(_size(item) for item in self.history)
        self.state = replayed.state
        self._seq = replayed.last_seq
        self.emit(replayed.started.model_copy(update={"lever_version": lever.__version__}))
        if replayed.seed is not None:
            self.emit(replayed.seed)
        self._answer_dangling_calls("interrupted: lever stopped before the command finished")
        self.open_turn = replayed.open_turn

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

    # -- turns ------------------------------------------------------------------------------

    async def run_turn(self, text: str | None) -> TurnFinished:
        """Run one user turn to its end; `None` continues the open turn of a restored session.

        `interrupt()` ends it early; the session stays usable.
        """
        self._turn = asyncio.create_task(self._loop(text))
        try:
            return await self._turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we ourselves are being cancelled, not just the turn
            self._answer_dangling_calls("interrupted by the user before it ran")
            return self._finish("interrupted", "interrupted by the user")
        finally:
            self._turn = None

    def interrupt(self) -> None:
        if self._turn is not None:
            self._turn.cancel()

    def _finish(self, reason: str, detail: str = "") -> TurnFinished:
        last = ""
        for item in reversed(self.history):
            if isinstance(item, UserMessage):
                break
            if isinstance(item, AssistantMessage):
                last = item.text
                break
        event = TurnFinished(reason=reason, last_message=last, detail=detail)
        self.open_turn = False
        self.emit(event)
        return event

    async def _loop(self, text: str | None) -> TurnFinished:
        if text is not None:
            self._add(UserMessage(text=text))
            if self.stuck is not None:
                self.stuck.reset()
        self.open_turn = True
        while True:
            limit = self.usage.exceeded(self.limits)
            if limit:
                return self._finish("limit", limit)
            try:
                await self._ensure_room()
                items = await self._sample()
            except AuthError as e:
                return self._error("auth", e)
            except ContextLengthError as e:
                return self._error("context", e)
            except ModelError as e:
                return self._error("model", e)
            for item in items:
                self._add(item)
            calls = [item for item in items if isinstance(item, ToolCall)]
            if not calls:
                return self._finish("done")
            results: list[ToolResult] = []
            if len(calls) > 1 and all(self.router.is_read_only(call) for call in calls):
                # Read-only calls run at once; their outputs still enter the history in order.
                results = list(await asyncio.gather(*(self._execute(call) for call in calls)))
                for call, result in zip(calls, results, strict=True):
                    self._record(call, result)
            else:
                for call in calls:
                    results.append(await self._execute(call))
                    self._record(call, results[-1])
                    if self.approvals is not None and self.approvals.take_stop():
                        self._answer_dangling_calls("not run: the person stopped the turn")
                        return self._finish("denied", "the person denied a request and stopped")
            stuck = self._check_stuck(calls, results)
            if stuck is not None:
                return stuck

    def _check_stuck(self, calls: list[ToolCall], results: list[ToolResult]) -> TurnFinished | None:
        """The same call with the same result again: nudge the model once, then stop."""
        if self.stuck is None:
            return None
        for call, result in zip(calls, results, strict=False):
            verdict = self.stuck.observe(call.name, call.arguments, result.output)
            if verdict.action == "stop":
                return self._finish("stuck", verdict.message)
            if verdict.action == "nudge":
                self._add(harness_message("nudge", verdict.message))
        return None

    def _error(self, kind: str, error: ModelError) -> TurnFinished:
        self.emit(ErrorEvent(message=str(error), kind=kind))
        return self._finish("error", f"{kind}: {error}")

    def _request(self) -> ModelRequest:
        extra: dict[str, Any] = {}
        if getattr(self.client, "wire", "") == "openai-responses":
            extra["prompt_cache_key"] = self.id  # one cache lineage per session
        return ModelRequest(
            instructions=self.instructions,
            tools=self.router.schemas(),
            items=list(self.history),
            model=self.model,
            extra=extra,
        )

    def _request_bytes(self) -> int:
        fixed = len(self.instructions) + sum(len(str(s)) for s in self.router.schemas())
        return fixed + self._history_bytes

    def estimated_tokens(self) -> int:
        return self.budget.estimate(self._request_bytes())

    async def _ensure_room(self) -> None:
        """Compact before a request that would pass the threshold; never twice in a row."""
        if not self.budget.should_compact(self.estimated_tokens()):
            return
        if self._compacted_since_sample:
            raise ContextLengthError("the context is still full right after a compaction")
        await self.compact()
        if not self.budget.fits_after_compaction(self.estimated_tokens()):
            raise ContextLengthError(
                f"after compaction the history still takes {self.estimated_tokens()} of "
                f"{self.budget.effective_window} tokens; less than 40% would be free"
            )

    async def compact(self) -> Compaction:
        """Replace the history with the hand-off (DESIGN.md §6); also `/compact` on demand."""
        self.memory.compacted = True
        self.memory.write_plan(self.state)
        snapshot = await compaction.environment_snapshot(self.cwd, self.state, self.memory.read())
        remote = getattr(self.client.inner, "compact", None) if self.remote_compaction else None
        if remote is not None:
            # The provider compacts; its opaque result replaces the history after the prefix.
            items = await remote(self._request())
            summary = "(compacted by the provider: opaque)"
            self.history = compaction.rebuild_from_remote(self.history, self.state, items, snapshot)
        else:
            summary = await compaction.summarize(self.client, self._request())
            budget_chars = int(
                self.budget.effective_window
                * self.budget.bytes_per_token
                * compaction.USER_MESSAGES_SHARE
            )
            self.history = compaction.rebuild_history(
                self.history, self.state, summary, snapshot, budget_chars
            )
        self._history_bytes = sum(_size(item) for item in self.history)
        self._compacted_since_sample = True
        event = Compaction(summary=summary, kept=list(self.history))
        self.emit(event)
        return event

    async def _sample(self) -> list[Item]:
        try:
            return await self._sample_once()
        except ContextLengthError:
            if self._compacted_since_sample:
                raise
            await self.compact()  # the provider says it does not fit: compact, retry once
            return await self._sample_once()

    async def _sample_once(self) -> list[Item]:
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            self.usage.requests += 1
            try:
                items = await self._stream(self._request(), self._request_bytes())
                self._compacted_since_sample = False
                return items
            except MalformedResponseError as e:
                if attempt == MALFORMED_ATTEMPTS:
                    raise
                if isinstance(e, ToolCallParseError):  # the same request would fail the same way
                    self._add(tool_call_error(str(e)))
                self.emit(
                    ErrorEvent(
                        message=f"unreadable reply: {e}",
                        retrying=True,
                        attempt=attempt,
                        kind="malformed",
                    )
                )
        raise AssertionError("unreachable")

    async def _stream(self, request: ModelRequest, request_bytes: int) -> list[Item]:
        items: list[Item] = []
        async for event in self.client.stream(request):
            if isinstance(event, TextDelta):
                self.emit(event)
            elif isinstance(event, ItemAdded):
                items.append(event.item)
            elif isinstance(event, TokenUsage):
                self.usage.input_tokens += event.input_tokens
                self.usage.output_tokens += event.output_tokens
                self.usage.cached_input_tokens += event.cached_input_tokens
                self.budget.observe(request_bytes, event.input_tokens)
                self.emit(event)
        return items

    async def _execute(self, call: ToolCall) -> ToolResult:
        """Run one call through its tool (and the sandbox and approvals); emit its events."""
        self.emit(ToolStarted(call_id=call.call_id, name=call.name, arguments=call.arguments))
        ctx = ToolContext(
            cwd=self.cwd,
            call_id=call.call_id,
            sandbox=self.sandbox,
            env=self.env,
            emit=self.emit,
            approvals=self.approvals,
            artifacts_dir=self.rollout.artifacts_dir if self.rollout else None,
            deadline=self.usage.deadline(self.limits),
        )
        try:
            result = await self.router.run(call, ctx)
        except asyncio.CancelledError:
            self._answer_call(call, "interrupted by the user while running", None, 0)
            raise
        self.emit(
            ToolFinished(
                call_id=call.call_id,
                name=call.name,
                exit_code=result.exit_code,
                duration_ms=result.duration_ms,
                full_output=result.full_output if result.full_output is not None else result.output,
                truncated=result.truncated,
                is_error=result.is_error,
                process_id=result.process_id,
            )
        )
        return result

    def _record(self, call: ToolCall, result: ToolResult) -> None:
        self._add(ToolOutput(call_id=call.call_id, output=result.output, is_error=result.is_error))

    def _answer_call(self, call: ToolCall, why: str, exit_code: int | None, ms: int) -> None:
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
        self._add(ToolOutput(call_id=call.call_id, output=f"error: {why}", is_error=True))

    def _answer_dangling_calls(self, why: str) -> None:
        """Every tool call gets exactly one output, interrupted ones included."""
        answered = {item.call_id for item in self.history if isinstance(item, ToolOutput)}
        for item in self.history:
            if isinstance(item, ToolCall) and item.call_id not in answered:
                self._answer_call(item, why, None, 0)


def _size(item: Item) -> int:
    """Bytes an item adds to a request, near enough for budgeting."""
    return len(item.model_dump_json())
