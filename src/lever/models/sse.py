"""The one SSE reader every model client uses: a thin layer over httpx_sse.

It yields `(event_name, data)` pairs where `data` is the parsed JSON payload, or the `DONE`
sentinel for Chat Completions' `data: [DONE]`. A payload that is not JSON, or a body that is not
an event stream at all, raises `MalformedResponseError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, Final

import httpx
from httpx_sse import EventSource, SSEError

from lever import safe_json
from lever.models.base import MalformedResponseError


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


async def iter_sse(response: httpx.Response) -> AsyncGenerator[tuple[str, SSEData], None]:
    """Yield `(event, data)` for every SSE event of `response` that carries data.

    Comments, keep-alives and events without data are skipped. When the body held bytes but not
    a single SSE event, the reply was not an event stream: `MalformedResponseError`.
    """
    source = EventSource(response)
    seen = 0
    try:
        async for sse in source.aiter_sse():
            seen += 1
            if not sse.data:
                continue
            yield sse.event, parse_data(sse.data)
    except SSEError as exc:
        body = (await response.aread()).decode("utf-8", "replace")
        raise MalformedResponseError(
            f"expected an event stream: {exc}: {_snippet(body)!r}"
        ) from exc
    if seen == 0 and response.num_bytes_downloaded > 0:
        raise MalformedResponseError("model reply was not a server-sent event stream")
