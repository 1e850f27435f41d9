"""The turn loop (DESIGN.md §3): sample the model, run its tool calls, repeat until it answers.

A `TurnRunner` belongs to one `Session` and runs its turns one at a time. The session holds the
history and the event stream; the runner adds to them through `session.add` and `session.emit`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lever.agent import endings, overflow
from lever.agent.harness_messages import harness_message, tag_of, tool_call_error
from lever.agent.limits import Usage, budget_text, mostly_spent, time_limit_message
from lever.agent.prompts import load_prompt
from lever.config.values import DEFAULT_EXEC_SECONDS
from lever.models.base import (
    AuthError,
    ContextLengthError,
    MalformedResponseError,
    ModelError,
    ModelRequest,
    OutputCut,
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

log = logging.getLogger(__name__)

#: A reply that cannot be parsed at all is asked for again this many times, then the turn fails.
MALFORMED_ATTEMPTS = 3


class TurnRunner:
    def __init__(self, session: Session) -> None:
        self.session = session
        #: What the current (or last) task spent; limits apply to it, not to the session.
        self.task = Usage()
        self._turn: asyncio.Task[TurnFinished] | None = None
        #: Set when the time limit, not the person, cancelled the turn.
        self._expired: str | None = None
        #: The tool calls of the step being run, and the outputs they got so far.
        self._step: list[ToolCall] = []
        self._outputs: dict[str, ToolOutput] = {}
        #: How the last reply ended, when it was cut at the output limit.
        self._cut: OutputCut | None = None
        #: This task's cut replies, empty replies and plan nudges so far (each is bounded).
        self._cuts = self._empties = self._nudges = 0

    async def run_turn(self, text: str | None) -> TurnFinished:
        """Run one task to its end; `None` continues the open turn of a restored session.

        The task's limits start from zero. The time limit is enforced while the model streams
        and while a command runs (the turn is cancelled, which kills the command's process
        group). An exception inside the turn ends it as an error and leaves every call answered.
        """
        self.task = Usage()
        self._expired = None
        self._cuts = self._empties = self._nudges = 0
        self._turn = asyncio.create_task(self._loop(text))
        deadline = self._arm_deadline()
        try:
            return await self._turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                self._settle("interrupted: lever stopped before it ran")
                raise  # we ourselves are being cancelled, not just the turn
            return self._stopped()
        except Exception as e:  # a bug must leave a valid history and a usable session
            return self._crashed(e)
        finally:
            if deadline is not None:
                deadline.cancel()
            self._turn = None

    @property
    def running(self) -> bool:
        """A turn is under way (`interrupt` would end it)."""
        return self._turn is not None

    def interrupt(self) -> None:
        if self._turn is not None:
            self._turn.cancel()

    def stop(self, reason: str) -> None:
        """End the running task as if a limit was reached (`reason` says which)."""
        if self._turn is not None and self._expired is None:
            self._expired = reason
            self.interrupt()

    def _arm_deadline(self) -> asyncio.TimerHandle | None:
        left = self.task.seconds_left(self.session.limits)
        if left is None:
            return None
        return asyncio.get_running_loop().call_later(left, self._expire)

    def _expire(self) -> None:
        limits = self.session.limits
        assert limits.max_seconds is not None
        self._expired = time_limit_message(self.task.elapsed(), limits.max_seconds)
        self.interrupt()

    def _stopped(self) -> TurnFinished:
        """The turn was cancelled: by the person, or by the time limit."""
        if self._expired is not None:
            self._settle("not run: the time limit was reached")
            body = load_prompt("turn_stopped").format(reason=self._expired)
            self.session.add(harness_message("turn_aborted", body))
            return self._finish("limit", self._expired)
        self._settle("interrupted by the user before it ran")
        self.session.add(harness_message("turn_aborted", load_prompt("turn_aborted")))
        return self._finish("interrupted", "interrupted by the user")

    def _crashed(self, error: Exception) -> TurnFinished:
        log.exception("internal error in a turn")
        message = f"internal error: {type(error).__name__}: {error}"
        self._settle(f"not run: {message}")
        self.session.emit(ErrorEvent(message=message, kind="internal"))
        return self._finish("error", f"internal: {type(error).__name__}: {error}")

    def _settle(self, why: str) -> None:
        """After a stop: the step's finished calls keep their results, in call order; calls
        that never ran are answered with `why`; so is any other call left without output."""
        session = self.session
        answered = {item.call_id for item in session.history if isinstance(item, ToolOutput)}
        for call in self._step:
            if call.call_id in answered:
                continue
            output = self._outputs.get(call.call_id)
            if output is not None:
                session.add(output)
            else:
                session.answer_call(call, why, None, 0)
        self._step, self._outputs = [], {}
        session.answer_dangling_calls(why)

    def _finish(self, reason: str, detail: str = "", *, answer: bool = True) -> TurnFinished:
        """End the turn; `answer=False` when the last reply is no answer (cut off, empty)."""
        last = ""
        for item in reversed(self.session.history if answer else []):
            if isinstance(item, UserMessage) and tag_of(item) is None:
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
            if session.options.budget_note and self._budget_matters():
                session.add(self._budget_note())  # before the message, which stays the last
            session.add(UserMessage(text=text))
            if session.stuck is not None:
                session.stuck.reset()
        session.open_turn = True
        warned = not session.options.budget_note
        while True:
            limit = self.task.exceeded(session.limits)
            if limit:
                return self._finish("limit", limit)
            if not warned and mostly_spent(self.task, session.limits):
                warned = True  # once per task: most of a limit is spent, time to wrap up
                session.add(self._budget_note())
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
            if self._cut is not None:
                end = self._after_cut(self._cut, calls)
            elif calls:
                end = await self._run_calls(calls)
            else:
                end = self._after_answer(items)
            if end is not None:
                return end

    def _budget_matters(self) -> bool:
        """Worth a note at the start of a task: a token or time limit is set, or the context is
        half full (a turn limit alone is told when it is mostly spent, see `_loop`)."""
        session = self.session
        limits = session.limits
        half_full = session.estimated_tokens() * 2 >= session.budget.context_window
        # `lever exec`'s default wall-time limit is a backstop against hangs, not a budget the
        # person set: it alone is no reason for a note (the note would change every prompt).
        timed = limits.max_seconds not in (None, DEFAULT_EXEC_SECONDS)
        return limits.max_tokens is not None or timed or half_full

    def _budget_note(self) -> UserMessage:
        session = self.session
        text = budget_text(
            self.task, session.limits, session.estimated_tokens(), session.budget.context_window
        )
        return harness_message("budget", text)

    def _after_cut(self, cut: OutputCut, calls: list[ToolCall]) -> TurnFinished | None:
        """A reply cut at the output limit: nothing of it runs; the model is told, with a larger
        output cap where the model takes one, and asked again (a bounded number of times)."""
        session = self.session
        self._cuts += 1
        for call in calls:  # the last call was being written when the reply was cut
            session.answer_call(call, endings.cut_call_output(cut, call is calls[-1]), None, 0)
        if not calls:
            session.add(endings.cut_reply_note(cut))
        if self._cuts > endings.MAX_CUTS:
            detail = f"cut: the model's reply was cut at its output limit {self._cuts} times"
            session.emit(ErrorEvent(message=detail, kind="cut"))
            return self._finish("error", detail, answer=False)
        raised = session.raise_output_cap()
        more = f"; asking again with up to {raised} output tokens" if raised else ""
        message = f"the reply was cut at the output limit ({endings.limit_text(cut)}){more}"
        session.emit(ErrorEvent(message=message, retrying=True, attempt=self._cuts, kind="cut"))
        return None

    def _after_answer(self, items: list[Item]) -> TurnFinished | None:
        """A reply without tool calls: the end of the turn, unless it is empty or stops while
        the plan still has open steps (then the model is asked once more)."""
        session = self.session
        text = endings.answer_text(items)
        if not text.strip():
            self._empties += 1
            if self._empties > endings.MAX_EMPTY:
                detail = "empty: the model ended its turn without an answer"
                session.emit(ErrorEvent(message=detail, kind="empty"))
                return self._finish("error", detail, answer=False)
            session.add(endings.empty_reply_note())
            return None
        if self._nudges < session.options.plan_nudges:
            nudge = endings.plan_nudge(session.state, text)
            if nudge is not None:
                self._nudges += 1
                session.add(nudge)
                return None
        return self._finish("done")

    async def _run_calls(self, calls: list[ToolCall]) -> TurnFinished | None:
        """Run one step's calls; their outputs enter the history in call order."""
        session = self.session
        self._step, self._outputs = calls, {}
        if len(calls) > 1 and all(session.router.is_read_only(call) for call in calls):
            # Read-only calls run at once; each result is kept as it comes (see `_settle`).
            results = await self._run_at_once(calls)
            for call in calls:
                session.add(self._outputs[call.call_id])
        else:
            results = []
            for call in calls:
                results.append(await self._execute(call))
                session.add(self._outputs[call.call_id])
                if session.approvals is not None and session.approvals.take_stop():
                    self._settle("not run: the person stopped the turn")
                    return self._finish("denied", "the person denied a request and stopped")
        self._step, self._outputs = [], {}
        return self._check_stuck(calls, results)

    async def _run_at_once(self, calls: list[ToolCall]) -> list[ToolResult]:
        tasks = [asyncio.ensure_future(self._execute(call)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # One failed (or the turn was stopped): stop the others before the history is
            # settled, so no call finishes after the turn did.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

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
        except ContextLengthError as e:
            # The provider says it does not fit: learn its limit, compact to fit, ask again.
            return await overflow.recover(self.session, e, self._sample_once)

    async def _sample_once(self) -> list[Item]:
        session = self.session
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            self._cut = None
            session.usage.requests += 1
            self.task.requests += 1
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
                session.budget.observe(request_bytes, event.input_tokens)
                session.count(event)
            elif isinstance(event, OutputCut):
                self._cut = event
        return items

    async def _execute(self, call: ToolCall) -> ToolResult:
        """Run one call through its tool (and the sandbox and approvals); emit its events."""
        session = self.session
        session.emit(ToolStarted(call_id=call.call_id, name=call.name, arguments=call.arguments))
        ctx = ToolContext(
            cwd=session.cwd,
            call_id=call.call_id,
            # Patches may write where commands may: the workspace and `sandbox.writable_roots`.
            writable_roots=(session.cwd, *session.sandbox.policy.writable_roots),
            sandbox=session.sandbox,
            env=session.env,
            emit=session.emit,
            approvals=session.approvals,
            artifacts_dir=session.rollout.artifacts_dir if session.rollout else None,
            deadline=self.task.deadline(session.limits),
        )
        try:
            result = await session.router.run(call, ctx)
        except asyncio.CancelledError:
            why = "interrupted while running"
            finished = ToolFinished(call_id=call.call_id, name=call.name, full_output=why)
            session.emit(finished.model_copy(update={"is_error": True}))
            self._outputs[call.call_id] = ToolOutput(
                call_id=call.call_id, output=f"error: {why}", is_error=True
            )
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
        self._outputs[call.call_id] = ToolOutput(
            call_id=call.call_id, output=result.output, is_error=result.is_error
        )
        return result
