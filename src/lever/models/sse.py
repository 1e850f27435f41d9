"""The one SSE reader every model client uses: a thin layer over httpx_sse.

It yields `(event_name, data)` pairs where `data` is the parsed JSON payload, or the `DONE`
sentinel for Chat Completions' `data: [DONE]`. A payload that is not JSON (or nested too deep), or
a body that is not an event stream at all, raises `MalformedResponseError`. A reply larger than
`max_bytes` raises `StreamLimitError` as soon as it passes the cap, whether or not its bytes form
events: an endless stream ends there instead of filling memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, Final, cast

import httpx
from httpx_sse import EventSource, SSEError

from lever import safe_json
from lever.models.base import MalformedResponseError, ModelError

#: What is read of a body that turned out not to be an event stream, for the error message.
_HEAD_BYTES = 4096


class StreamLimitError(ModelError):
    """The reply passed the byte cap of one response: cut off there, not retried (it would
    most likely run away again)."""


class _Done:
    """The `data: [DONE]` sentinel (Chat Completions' end of stream)."""

    def __repr__(self) -> str:
        return "DONE"


DONE: Final = _Done()

SSEData = dict[str, Any] | _Done


def _snippet(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def parse_data(data: str) -> SSEData:
    """Parse one SSE `data` field: JSON object, or the `[DONE]` sentinel."""
    if data.strip() == "[DONE]":
        return DONE
    try:
        value = safe_json.loads(data)
    except safe_json.JSONLimitError as exc:
        raise MalformedResponseError(f"model stream sent an event refused: {exc.msg}") from exc
    except json.JSONDecodeError as exc:
        raise MalformedResponseError(f"model stream sent invalid JSON: {_snippet(data)!r}") from exc
    if not isinstance(value, dict):
        raise MalformedResponseError(f"model stream sent a non-object payload: {_snippet(data)!r}")
    return value


class _CappedBody:
    """The part of an `httpx.Response` that `EventSource` reads (headers and `aiter_text`),
    counting the bytes that arrive: past `max_bytes`, `StreamLimitError`."""

    def __init__(self, response: httpx.Response, max_bytes: int) -> None:
        self._response = response
        self._max_bytes = max_bytes
        self.headers = response.headers

    async def aiter_text(self) -> AsyncGenerator[str, None]:
        async for text in self._response.aiter_text():
            if self._response.num_bytes_downloaded > self._max_bytes:
                raise StreamLimitError(
                    f"model reply cut off: it passed the {self._max_bytes}-byte cap of one "
                    "response (stream_max_bytes)"
                )
            yield text


async def head(response: httpx.Response, limit: int = _HEAD_BYTES) -> str:
    """The first `limit` bytes of a body, as text; never the whole of an endless body."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", "replace")


async def iter_sse(
    response: httpx.Response, *, max_bytes: int | None = None
) -> AsyncGenerator[tuple[str, SSEData], None]:
    """Yield `(event, data)` for every SSE event of `response` that carries data.

    Comments, keep-alives and events without data are skipped. When the body held bytes but not
    a single SSE event, the reply was not an event stream: `MalformedResponseError`.
    """
    body = response if max_bytes is None else _CappedBody(response, max_bytes)
    source = EventSource(cast(httpx.Response, body))
    seen = 0
    try:
        async for sse in source.aiter_sse():
            seen += 1
            if not sse.data:
                continue
            yield sse.event, parse_data(sse.data)
    except SSEError as exc:
        text = await head(response)
        raise MalformedResponseError(
            f"expected an event stream: {exc}: {_snippet(text)!r}"
        ) from exc
    if seen == 0 and response.num_bytes_downloaded > 0:
        raise MalformedResponseError("model reply was not a server-sent event stream")
