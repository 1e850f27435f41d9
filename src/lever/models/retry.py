"""The one retry/backoff wrapper for every model client.

Retries only errors with `retryable = True`, with exponential backoff and full jitter, honouring
the server's `retry_after`. Text deltas pass through live; completed items and token usage of an
attempt are held back until that attempt's stream finished, so a stream cut in the middle never
puts half a turn into the history.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from typing import TypeVar

from lever.models.base import ModelClient, ModelError, ModelEvent, ModelRequest
from lever.protocol import TextDelta

#: Called before each retry with (error, retry number starting at 1, delay in seconds).
OnRetry = Callable[[ModelError, int, float], None]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@asynccontextmanager
async def closing_stream(stream: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T], None]:
    """Close an async iterator (an HTTP stream underneath) however the loop over it ends."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class RetryingClient:
    """Wraps a `ModelClient`; itself a `ModelClient`."""

    def __init__(
        self,
        inner: ModelClient,
        max_retries: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        on_retry: OnRetry | None = None,
        *,
        max_retry_after: float = 120.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.wire = inner.wire
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.on_retry = on_retry
        self._sleep = sleep
        self._rng = rng or random.Random()

    def delay(self, error: ModelError, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based): the server's wish, else full jitter."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(max(0.0, float(retry_after)), self.max_retry_after)
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, cap)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        held: list[ModelEvent] = []
        async with closing_stream(self.inner.stream(request)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event
                else:
                    held.append(event)
        for event in held:
            yield event

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        attempt = 0
        while True:
            try:
                async with aclosing(self._attempt(request)) as events:
                    async for event in events:
                        yield event
                return
            except ModelError as error:
                attempt += 1
                if not error.retryable or attempt > self.max_retries:
                    raise
                wait = self.delay(error, attempt)
                if self.on_retry is not None:
                    self.on_retry(error, attempt, wait)
                await self._sleep(wait)

    async def aclose(self) -> None:
        await self.inner.aclose()
