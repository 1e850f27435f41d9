"""A recording reverse proxy on 127.0.0.1 in front of llama-server, for bench/real_episode.py.

Every request is forwarded as it came and every response (streamed or not) is relayed chunk by
chunk, unchanged; the proxy only watches. Per request it records the path, when the request
reached the proxy and when the server's last byte left it, and the server's own figures from
the reply: llama-server puts `timings` (prompt_n = prompt tokens evaluated, cache_n = prompt
tokens reused from the KV cache, predicted_n, prompt_ms, predicted_ms) in the JSON body or the
last SSE event of /v1/chat/completions and /v1/responses, and `usage` everywhere (the only
figures on /v1/messages and on non-streamed /v1/responses).

It runs in a thread of the bench process (uvicorn on a socket bound here, so the port is known
before it starts): the bench only waits on the agents meanwhile, and a second process would
just add a hop.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

_TEXT_COMMAND = re.compile(r"```mswea_bash_command\s*\n(.*?)\n```", re.DOTALL)
#: Hop-by-hop headers, and the ones httpx/uvicorn set themselves.
_SKIP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Exchange:
    method: str
    path: str
    started: float  # time.monotonic() when the whole request body had arrived
    ended: float = 0.0  # time.monotonic() when the server's last byte was relayed
    status: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return asdict(self)


class RecordingProxy:
    """`with RecordingProxy(upstream) as proxy:` ... `proxy.base_url`, `proxy.take()`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.bodies: list[tuple[bytes, bytes]] = []  # (request, response) of each exchange
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off",
            interface="asgi3", timeout_keep_alive=120,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def take(self) -> tuple[list[Exchange], list[tuple[bytes, bytes]]]:
        """The exchanges recorded since the last call (and their bodies), oldest first."""
        with self._lock:
            taken = (self.exchanges, self.bodies)
            self.exchanges, self.bodies = [], []
        return taken

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        # A new loopback connection to the server per request (well under a millisecond): a
        # pooled one can be closed by llama-server right after a streamed reply, and the next
        # request on it then fails with "Server disconnected without sending a response" (seen
        # once in a lever episode, which retried). No timeout: a long prompt can take minutes.
        limits = httpx.Limits(max_keepalive_connections=0)
        self._client = httpx.AsyncClient(timeout=None, trust_env=False, limits=limits)
        async with self._client:
            await self._server.serve(sockets=[self._sock])

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        response = await self._forward(Request(scope, receive))
        await response(scope, receive, send)

    def rewrite(self, body: bytes) -> bytes:
        """The request body as it is sent upstream (a subclass may change it; this one doesn't)."""
        return body

    async def _forward(self, request: Request) -> Response:
        body = self.rewrite(await request.body())
        record = Exchange(
            request.method, request.url.path, time.monotonic(), request_bytes=len(body)
        )
        url = self.upstream + request.url.path.removeprefix("/v1")
        if request.url.query:
            url += "?" + request.url.query
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP_HEADERS}
        try:
            upstream = await self._client.send(
                self._client.build_request(request.method, url, headers=headers, content=body),
                stream=True,
            )
        except httpx.HTTPError as e:  # the server is gone: the agent sees a 502, and so do we
            record.ended, record.status = time.monotonic(), 502
            record.figures = {"error": f"{type(e).__name__}: {e}"}
            with self._lock:
                self.exchanges.append(record)
                self.bodies.append((body, b""))
            return Response(f"proxy: {record.figures['error']}", status_code=502)
        record.status = upstream.status_code
        reply_headers = {
            k: v for k, v in upstream.headers.items() if k.lower() not in _SKIP_HEADERS
        }
        content_type = upstream.headers.get("content-type", "")

        async def relay() -> Any:
            chunks: list[bytes] = []
            try:
                async for chunk in upstream.aiter_raw():
                    chunks.append(chunk)
                    yield chunk
            finally:
                record.ended = time.monotonic()
                await upstream.aclose()
                reply = b"".join(chunks)
                record.response_bytes = len(reply)
                record.figures = reply_figures(reply, content_type)
                with self._lock:
                    self.exchanges.append(record)
                    self.bodies.append((body, reply))

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=reply_headers)


# -- what the server said about a reply ----------------------------------------------------


def reply_figures(reply: bytes, content_type: str) -> dict[str, Any]:
    """Token figures, tool calls and finish reason of one reply (JSON or SSE), as the server
    reported them; a figure the server did not report is None."""
    events = _sse_events(reply) if "event-stream" in content_type else [_json(reply)]
    timings: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    calls: set[str] = set()
    text: list[str] = []
    finish = None
    for event in events:
        text += _text(event)
        timings = event.get("timings") or timings
        nested = event.get("response") or event.get("message") or {}
        found = event.get("usage") or (nested.get("usage") if isinstance(nested, dict) else None)
        usage = {**usage, **found} if isinstance(found, dict) else usage
        calls |= _tool_calls(event)
        for choice in event.get("choices") or []:
            finish = choice.get("finish_reason") or finish
        finish = (nested.get("status") if isinstance(nested, dict) else None) or finish
    cached = (usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}).get(
        "cached_tokens", usage.get("cache_read_input_tokens")
    )
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    generated = usage.get("completion_tokens", usage.get("output_tokens"))
    return {
        # Tokens the server evaluated for this prompt, and the ones it took from its cache.
        "prompt_n": timings.get("prompt_n", _minus(prompt, cached)),
        "cache_n": timings.get("cache_n", cached),
        "predicted_n": timings.get("predicted_n", generated),
        "prompt_ms": timings.get("prompt_ms"),
        "predicted_ms": timings.get("predicted_ms"),
        "from_timings": bool(timings),
        "tool_calls": len(calls),
        # A command in mini-swe-agent's text format (its `action_regex`), which its text mode
        # runs instead of a tool call: only a reply with exactly one, as mini rejects others.
        "text_commands": int(len(_TEXT_COMMAND.findall("".join(text))) == 1),
        "finish": finish,
    }  # fmt: skip


def _tool_calls(event: dict[str, Any]) -> set[str]:
    """Keys of the tool calls an event (chat, Responses or Messages; whole or a delta) holds."""
    found: set[str] = set()
    for choice in event.get("choices") or []:
        for part in ("message", "delta"):
            for call in (choice.get(part) or {}).get("tool_calls") or []:
                found.add(f"{choice.get('index', 0)}:{call.get('index', call.get('id'))}")
    items = list(event.get("output") or [])  # a whole Responses reply
    if event.get("type") == "response.output_item.done":
        items.append(event.get("item") or {})
    for item in items:
        if item.get("type") in ("function_call", "custom_tool_call"):
            found.add(str(item.get("call_id") or item.get("id")))
    for block in event.get("content") or []:  # a whole Messages reply
        if isinstance(block, dict) and block.get("type") == "tool_use":
            found.add(str(block.get("id")))
    block = event.get("content_block") or {}
    if block.get("type") == "tool_use":
        found.add(str(block.get("id")))
    return found


def _text(event: dict[str, Any]) -> list[str]:
    """The reply text an event carries (Chat message or delta; Responses text delta)."""
    found = [
        str((choice.get(part) or {}).get("content") or "")
        for choice in event.get("choices") or []
        for part in ("message", "delta")
    ]
    if event.get("type") == "response.output_text.delta":
        found.append(str(event.get("delta") or ""))
    return found


def _sse_events(reply: bytes) -> list[dict[str, Any]]:
    events = []
    for line in reply.decode("utf-8", "replace").splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            events.append(_json(line[5:].strip().encode()))
    return events


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _minus(a: int | None, b: int | None) -> int | None:
    return a - (b or 0) if a is not None else None
