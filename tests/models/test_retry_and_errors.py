"""The retry wrapper (with a scripted inner client) and the error classification."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lever.models.base import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    MalformedResponseError,
    ModelError,
    ModelEvent,
    ModelRequest,
    RetryableError,
)
from lever.models.http import classify_error, error_details, parse_retry_after
from lever.models.retry import RetryingClient
from lever.models.sse import DONE, parse_data
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import AssistantMessage

REQUEST = ModelRequest(instructions="", tools=[], items=[], model="m")


class Scripted:
    """Each attempt yields its events, then raises its error (if any)."""

    wire = "test"

    def __init__(self, attempts: list[tuple[list[ModelEvent], ModelError | None]]) -> None:
        self.attempts = attempts
        self.calls = 0
        self.closed = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        events, error = self.attempts[self.calls]
        self.calls += 1
        try:
            for event in events:
                yield event
            if error is not None:
                raise error
        finally:
            self.closed += 1

    async def aclose(self) -> None:
        pass


def turn(text: str) -> list[ModelEvent]:
    return [
        TextDelta(delta=text),
        ItemAdded(item=AssistantMessage(text=text)),
        TokenUsage(input_tokens=1, output_tokens=1),
    ]


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.retries: list[tuple[ModelError, int, float]] = []

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)

    def on_retry(self, error: ModelError, attempt: int, delay: float) -> None:
        self.retries.append((error, attempt, delay))


def client(inner: Scripted, rec: Recorder, **kw: Any) -> RetryingClient:
    return RetryingClient(inner, on_retry=rec.on_retry, sleep=rec.sleep, rng=random.Random(7), **kw)


async def collect(c: RetryingClient) -> list[ModelEvent]:
    return [e async for e in c.stream(REQUEST)]


async def test_cut_stream_keeps_no_half_turn() -> None:
    cut = turn("partial")[:2]  # delta + item, then the stream breaks
    inner = Scripted([(cut, RetryableError("cut")), (turn("whole"), None)])
    rec = Recorder()
    events = await collect(client(inner, rec))
    items = [e.item for e in events if isinstance(e, ItemAdded)]
    assert items == [AssistantMessage(text="whole")]
    deltas = [e.delta for e in events if isinstance(e, TextDelta)]
    assert deltas == ["partial", "whole"]  # deltas are live, even of the failed attempt
    assert sum(isinstance(e, TokenUsage) for e in events) == 1
    assert [(a, type(e)) for e, a, _ in rec.retries] == [(1, RetryableError)]
    assert inner.closed == 2


async def test_retry_after_honoured_and_backoff_bounded() -> None:
    errors = [RetryableError("429", 429, retry_after=3.0)] + [RetryableError("500", 500)] * 3
    inner = Scripted([([], e) for e in errors] + [(turn("ok"), None)])
    rec = Recorder()
    await collect(client(inner, rec, base_delay=1.0, max_delay=2.5))
    assert rec.sleeps[0] == 3.0
    caps = [2.0, 2.5, 2.5]  # base * 2**(n-1), capped by max_delay
    assert all(0 <= s <= cap for s, cap in zip(rec.sleeps[1:], caps, strict=True))
    assert [a for _, a, _ in rec.retries] == [1, 2, 3, 4]


async def test_gives_up_after_max_retries() -> None:
    inner = Scripted([([], RetryableError("down", 503))] * 3)
    rec = Recorder()
    with pytest.raises(RetryableError):
        await collect(client(inner, rec, max_retries=2))
    assert inner.calls == 3 and len(rec.sleeps) == 2


@pytest.mark.parametrize(
    "error", [AuthError("no"), BadRequestError("bad"), MalformedResponseError("x")]
)
async def test_no_retry_for_permanent_errors(error: ModelError) -> None:
    inner = Scripted([([], error), (turn("never"), None)])
    rec = Recorder()
    with pytest.raises(type(error)):
        await collect(client(inner, rec))
    assert inner.calls == 1 and rec.retries == []


async def test_consumer_stopping_early_closes_inner() -> None:
    inner = Scripted([(turn("a"), None)])
    stream = client(inner, Recorder()).stream(REQUEST)
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    assert inner.closed == 1


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("status", "message", "code", "kind"),
    [
        (429, "slow down", None, RetryableError),
        (429, "Rate limit: too many tokens per min", "rate_limit_exceeded", RetryableError),
        (413, "request_too_large", None, ContextLengthError),
        (500, "oops", None, RetryableError),
        (503, "overloaded", None, RetryableError),
        (408, "timeout", None, RetryableError),
        (409, "conflict", None, RetryableError),
        (401, "bad key", None, AuthError),
        (403, "forbidden", None, AuthError),
        (429, "You exceeded your current quota", "insufficient_quota", AuthError),
        (400, "bad", None, BadRequestError),
        (404, "no such model", None, BadRequestError),
        (422, "unprocessable", None, BadRequestError),
        (400, "This model's maximum context length is 8192 tokens", None, ContextLengthError),
        (400, "x", "context_length_exceeded", ContextLengthError),
        # llama.cpp's llama-server
        (
            400,
            "the request exceeds the available context size, try increasing it",
            None,
            ContextLengthError,
        ),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", None, ContextLengthError),
        (None, "Overloaded", "overloaded_error", RetryableError),
        (None, "boom", "server_error", RetryableError),
        (None, "too long", "context_length_exceeded", ContextLengthError),
        (None, "bad", "invalid_request_error", BadRequestError),
        (None, "bad", "400", BadRequestError),
    ],
)
def test_classify(status: int | None, message: str, code: str | None, kind: type) -> None:
    error = classify_error(message, code, status)
    assert type(error) is kind
    assert message in str(error)


def test_auth_message_names_env_var() -> None:
    error = classify_error("Incorrect API key", None, 401, key_env="OPENAI_API_KEY")
    assert "$OPENAI_API_KEY" in str(error) and "Incorrect API key" in str(error)
    missing = classify_error("no key", None, 401, key_env="ANTHROPIC_API_KEY", has_key=False)
    assert "set $ANTHROPIC_API_KEY" in str(missing)


def test_retry_hint_in_message() -> None:
    error = classify_error("Rate limit reached. Please try again in 1.5s.", "rate_limit_exceeded")
    assert isinstance(error, RetryableError) and error.retry_after == 1.5


def test_parse_retry_after() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "2"})) == 2.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert parse_retry_after(httpx.Headers({})) is None


def test_error_details_shapes() -> None:
    openai = {"error": {"message": "m", "type": "invalid_request_error", "code": "c"}}
    assert error_details(openai) == ("m", "c")
    claude = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert error_details(claude) == ("Overloaded", "overloaded_error")
    assert error_details({"error": "plain"}) == ("plain", None)
    assert error_details({"detail": "fastapi"}) == ("fastapi", None)


def test_sse_parse_data() -> None:
    assert parse_data("[DONE]") is DONE
    assert parse_data('{"a": 1}') == {"a": 1}
    with pytest.raises(MalformedResponseError):
        parse_data("{nope")
