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
from lever.agent.limits import Limits, Usage
from lever.agent.prompts import load_prompt
from lever.models.base import (
    AuthError,
    ContextLengthError,
    MalformedResponseError,
    ModelClient,
    ModelError,
    ModelRequest,
)
from lever.models.retry import RetryingClient
from lever.protocol import (
    AssistantMessage,
    ErrorEvent,
    ItemAdded,
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
from lever.sandbox.base import NoSandbox, Sandbox
from lever.sandbox.env import command_env
from lever.store.rollout import RolloutWriter, new_session_id
from lever.tools.base import ToolContext
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
        self.env = env if env is not None else command_env(os.environ)
        self.config = config or {}
        self.client = RetryingClient(
            client, max_retries=max_retries, base_delay=retry_base_delay, on_retry=self._on_retry
        )
        self.history: list[Item] = []
        self.usage = Usage()
        self._sinks: list[Sink] = []
        self._seq = 0
        self._turn: asyncio.Task[TurnFinished] | None = None

    # -- the event stream -------------------------------------------------------------------

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, event: BaseModel) -> None:
        self._seq += 1
        event.seq = self._seq  # type: ignore[attr-defined]
        event.ts = time.time()  # type: ignore[attr-defined]
        if self.rollout is not None and not getattr(event, "ephemeral", False):
            self.rollout.append(event)
        for sink in self._sinks:
            sink(event)

    def _add(self, item: Item) -> None:
        self.history.append(item)
        self.emit(ItemAdded(item=item))

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
                instructions=self.instructions,
                tools=[vars(schema) for schema in self.router.schemas()],
                config=self.config,
                lever_version=lever.__version__,
            )
        )
        self._add(UserMessage(text=self._environment_context()))

    def _environment_context(self) -> str:
        return (
            "<environment_context>\n"
            f"  <cwd>{self.cwd}</cwd>\n"
            "  <shell>bash</shell>\n"
            f"  <sandbox>{self.sandbox.policy.mode} ({self.sandbox.name})</sandbox>\n"
            "</environment_context>"
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

    async def run_turn(self, text: str) -> TurnFinished:
        """Run one user turn to its end. `interrupt()` ends it early; the session stays usable."""
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
        self.emit(event)
        return event

    async def _loop(self, text: str) -> TurnFinished:
        self._add(UserMessage(text=text))
        while True:
            limit = self.usage.exceeded(self.limits)
            if limit:
                return self._finish("limit", limit)
            try:
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
            for call in calls:
                await self._run_tool(call)

    def _error(self, kind: str, error: ModelError) -> TurnFinished:
        self.emit(ErrorEvent(message=str(error), kind=kind))
        return self._finish("error", f"{kind}: {error}")

    async def _sample(self) -> list[Item]:
        request = ModelRequest(
            instructions=self.instructions,
            tools=self.router.schemas(),
            items=list(self.history),
            model=self.model,
        )
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            self.usage.requests += 1
            try:
                return await self._stream(request)
            except MalformedResponseError as e:
                if attempt == MALFORMED_ATTEMPTS:
                    raise
                self.emit(
                    ErrorEvent(
                        message=f"unreadable reply: {e}",
                        retrying=True,
                        attempt=attempt,
                        kind="malformed",
                    )
                )
        raise AssertionError("unreachable")

    async def _stream(self, request: ModelRequest) -> list[Item]:
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
                self.emit(event)
        return items

    async def _run_tool(self, call: ToolCall) -> None:
        self.emit(ToolStarted(call_id=call.call_id, name=call.name, arguments=call.arguments))
        ctx = ToolContext(
            cwd=self.cwd,
            call_id=call.call_id,
            sandbox=self.sandbox,
            env=self.env,
            emit=self.emit,
            artifacts_dir=self.rollout.artifacts_dir if self.rollout else None,
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
