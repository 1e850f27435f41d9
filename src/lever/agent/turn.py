"""The turn loop (DESIGN.md §3): sample the model, run its tool calls, repeat until it answers.

A `TurnRunner` belongs to one `Session` and runs its turns one at a time. The session holds the
history and the event stream; the runner adds to them through `session.add` and `session.emit`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lever.agent.harness_messages import harness_message, tool_call_error
from lever.models.base import (
    AuthError,
    ContextLengthError,
    MalformedResponseError,
    ModelError,
    ModelRequest,
    ToolCallParseError,
)
from lever.protocol import (
    AssistantMessage,
    ErrorEvent,
    ItemAdded,
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
from lever.tools.base import ToolContext, ToolResult

if TYPE_CHECKING:
    from lever.agent.session import Session

#: A reply that cannot be parsed at all is asked for again this many times, then the turn fails.
MALFORMED_ATTEMPTS = 3


class TurnRunner:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._turn: asyncio.Task[TurnFinished] | None = None

    async def run_turn(self, text: str | None) -> TurnFinished:
        """Run one user turn to its end; `None` continues the open turn of a restored session."""
        self._turn = asyncio.create_task(self._loop(text))
        try:
            return await self._turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we ourselves are being cancelled, not just the turn
            self.session.answer_dangling_calls("interrupted by the user before it ran")
            return self._finish("interrupted", "interrupted by the user")
        finally:
            self._turn = None

    def interrupt(self) -> None:
        if self._turn is not None:
            self._turn.cancel()

    def _finish(self, reason: str, detail: str = "") -> TurnFinished:
        last = ""
        for item in reversed(self.session.history):
            if isinstance(item, UserMessage):
                break
            if isinstance(item, AssistantMessage):
                last = item.text
                break
        event = TurnFinished(reason=reason, last_message=last, detail=detail)
        self.session.open_turn = False
        self.session.emit(event)
        return event

    async def _loop(self, text: str | None) -> TurnFinished:
        session = self.session
        if text is not None:
            session.add(UserMessage(text=text))
            if session.stuck is not None:
                session.stuck.reset()
        session.open_turn = True
        while True:
            limit = session.usage.exceeded(session.limits)
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
                session.add(item)
            calls = [item for item in items if isinstance(item, ToolCall)]
            if not calls:
                return self._finish("done")
            results: list[ToolResult] = []
            if len(calls) > 1 and all(session.router.is_read_only(call) for call in calls):
                # Read-only calls run at once; their outputs still enter the history in order.
                results = list(await asyncio.gather(*(self._execute(call) for call in calls)))
                for call, result in zip(calls, results, strict=True):
                    self._record(call, result)
            else:
                for call in calls:
                    results.append(await self._execute(call))
                    self._record(call, results[-1])
                    if session.approvals is not None and session.approvals.take_stop():
                        session.answer_dangling_calls("not run: the person stopped the turn")
                        return self._finish("denied", "the person denied a request and stopped")
            stuck = self._check_stuck(calls, results)
            if stuck is not None:
                return stuck

    def _check_stuck(self, calls: list[ToolCall], results: list[ToolResult]) -> TurnFinished | None:
        """The same call with the same result again: nudge the model once, then stop."""
        if self.session.stuck is None:
            return None
        for call, result in zip(calls, results, strict=False):
            verdict = self.session.stuck.observe(call.name, call.arguments, result.output)
            if verdict.action == "stop":
                return self._finish("stuck", verdict.message)
            if verdict.action == "nudge":
                self.session.add(harness_message("nudge", verdict.message))
        return None

    def _error(self, kind: str, error: ModelError) -> TurnFinished:
        self.session.emit(ErrorEvent(message=str(error), kind=kind))
        return self._finish("error", f"{kind}: {error}")

    async def _ensure_room(self) -> None:
        """Compact before a request that would pass the threshold; never twice in a row."""
        session = self.session
        if not session.budget.should_compact(session.estimated_tokens()):
            return
        if session.compacted_since_sample:
            raise ContextLengthError("the context is still full right after a compaction")
        await session.compact()
        if not session.budget.fits_after_compaction(session.estimated_tokens()):
            raise ContextLengthError(
                f"after compaction the history still takes {session.estimated_tokens()} of "
                f"{session.budget.effective_window} tokens; less than 40% would be free"
            )

    async def _sample(self) -> list[Item]:
        try:
            return await self._sample_once()
        except ContextLengthError:
            if self.session.compacted_since_sample:
                raise
            await self.session.compact()  # the provider says it does not fit: compact, retry once
            return await self._sample_once()

    async def _sample_once(self) -> list[Item]:
        session = self.session
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            session.usage.requests += 1
            try:
                items = await self._stream(session.request(), session._request_bytes())
                session.compacted_since_sample = False
                return items
            except MalformedResponseError as e:
                if attempt == MALFORMED_ATTEMPTS:
                    raise
                if isinstance(e, ToolCallParseError):  # the same request would fail the same way
                    session.add(tool_call_error(str(e)))
                session.emit(
                    ErrorEvent(
                        message=f"unreadable reply: {e}",
                        retrying=True,
                        attempt=attempt,
                        kind="malformed",
                    )
                )
        raise AssertionError("unreachable")

    async def _stream(self, request: ModelRequest, request_bytes: int) -> list[Item]:
        session = self.session
        items: list[Item] = []
        async for event in session.client.stream(request):
            if isinstance(event, TextDelta):
                session.emit(event)
            elif isinstance(event, ItemAdded):
                items.append(event.item)
            elif isinstance(event, TokenUsage):
                session.usage.input_tokens += event.input_tokens
                session.usage.output_tokens += event.output_tokens
                session.usage.cached_input_tokens += event.cached_input_tokens
                session.budget.observe(request_bytes, event.input_tokens)
                session.emit(event)
        return items

    async def _execute(self, call: ToolCall) -> ToolResult:
        """Run one call through its tool (and the sandbox and approvals); emit its events."""
        session = self.session
        session.emit(ToolStarted(call_id=call.call_id, name=call.name, arguments=call.arguments))
        ctx = ToolContext(
            cwd=session.cwd,
            call_id=call.call_id,
            sandbox=session.sandbox,
            env=session.env,
            emit=session.emit,
            approvals=session.approvals,
            artifacts_dir=session.rollout.artifacts_dir if session.rollout else None,
        )
        try:
            result = await session.router.run(call, ctx)
        except asyncio.CancelledError:
            session.answer_call(call, "interrupted by the user while running", None, 0)
            raise
        session.emit(
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
        self.session.add(
            ToolOutput(call_id=call.call_id, output=result.output, is_error=result.is_error)
        )
