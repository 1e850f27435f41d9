"""The one place that talks HTTP to a model provider and maps every failure to a `ModelError`.

`HttpTransport.stream_sse` sends a streaming POST and yields the reply's SSE events;
`HttpTransport.get_json` does a plain GET (model lists). HTTP statuses, transport failures
(timeouts, refused connections, cut streams) and error payloads sent inside a stream all become
the errors of `lever.models.base`, with the server's own message in the text.

Nothing a provider does can hang lever or fill its memory (`StreamLimits`): a stream that sends
no event for `idle_timeout` seconds (keep-alive comments do not count) is a retryable stall; a
reply past `max_bytes` is cut off (`StreamLimitError`); a reply whose headers do not come
within `headers_timeout` is retryable; a provider asking to wait longer than
`max_retry_after` before retrying gets a clear error at once instead of being waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import os
import re
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lever import safe_json
from lever.models.base import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    MalformedResponseError,
    ModelError,
    RetryableError,
    ToolCallParseError,
)
from lever.models.sse import SSEData, head, iter_sse

#: What is read of an error reply's body: enough for any provider's message, never endless.
_ERROR_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StreamLimits:
    """Bounds on one model reply; `from_config` reads them from lever's configuration."""

    #: Seconds without a single SSE event before the stream counts as stalled (retryable).
    idle_timeout: float = 300.0
    #: Bytes of one reply before it is cut off (32 MiB).
    max_bytes: int = 32 * 1024 * 1024
    #: The longest Retry-After lever waits out; a longer one fails the attempt at once.
    max_retry_after: float = 60.0
    #: Seconds from sending a request to its reply's headers, in all (a server trickling its
    #: headers byte by byte defeats httpx's per-read timeout); long enough for a local server
    #: to read a long prompt before it answers.
    headers_timeout: float = 600.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StreamLimits:
        retry = config.get("retry") or {}
        return cls(
            idle_timeout=float(config.get("stream_idle_timeout", cls.idle_timeout)),
            max_bytes=int(config.get("stream_max_bytes", cls.max_bytes)),
            max_retry_after=float(retry.get("max_retry_after", cls.max_retry_after)),
            headers_timeout=float(config.get("stream_headers_timeout", cls.headers_timeout)),
        )


class RetryAfterTooLongError(ModelError):
    """The provider asked to wait longer than `max_retry_after` (often: a quota is used up)."""


_CONTEXT_RE = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|prompt is too long|"
    r"context window|input is too long|too many (input )?tokens|exceeds? the (model'?s? )?"
    r"(context|maximum)|reduce the length|request_too_large|exceed_context_size|"
    r"exceeds the available context size",
    re.IGNORECASE,
)
#: How providers state the limit and the request's size, as (pattern, group of the limit, group
#: of the request); the first that matches wins. Numbers may carry thousands separators.
_N = r"(\d[\d,]*)"
_CONTEXT_NUMBERS = (
    # Anthropic: "prompt is too long: 210000 tokens > 200000 maximum"
    (re.compile(rf"{_N} tokens > {_N} maximum"), 2, 1),
    # llama-server: "request (9000 tokens) exceeds the available context size (8192 tokens)"
    (re.compile(rf"request \({_N} tokens\) exceeds the available context size \({_N}"), 2, 1),
    # OpenAI Chat Completions: "…maximum context length is 8192 tokens. However, you requested
    # 9000 tokens (8000 in the messages, 1000 in the completion)…" — the input is what counts.
    (re.compile(rf"maximum context length is {_N} tokens.*?{_N} in the messages", re.S), 1, 2),
    # OpenAI ("your messages resulted in N tokens") and vLLM ("your request has N input tokens")
    (re.compile(rf"maximum context length is {_N} tokens.*?(?:resulted in|has) {_N}", re.S), 1, 2),
    # Gemini: "The input token count (1200000) exceeds the maximum number of tokens allowed
    # (1048576)"
    (re.compile(rf"input token count \(?{_N}\)? exceeds the maximum[^\d]*{_N}"), 2, 1),
    (re.compile(rf"maximum context length is {_N}"), 1, 0),
    (re.compile(rf"context (?:window|size|length) (?:of|is) {_N} tokens"), 1, 0),
)
#: llama-server's reply when the model wrote a tool call whose arguments are not JSON.
_TOOL_PARSE_RE = re.compile(r"failed to parse tool call", re.IGNORECASE)
_BAD_REQUEST_CODES = {
    "invalid_request_error",
    "invalid_prompt",
    "not_found_error",
    "invalid_request",
}
_TRY_AGAIN_RE = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_AUTH_CODES = {
    "insufficient_quota",
    "invalid_api_key",
    "authentication_error",
    "permission_error",
    "billing_error",
}


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_details(payload: Any) -> tuple[str, str | None]:
    """(message, code) from any provider's error payload (OpenAI, Anthropic, vLLM, Ollama…)."""
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, str):
            return inner, None
        if isinstance(inner, dict):
            message = inner.get("message") or payload.get("message") or payload.get("detail")
            code = inner.get("code") or inner.get("type")
            text = message if isinstance(message, str) else json.dumps(inner)
            return text, str(code) if code is not None else None
    if isinstance(payload, str):
        return payload, None
    return json.dumps(payload), None


def _body_details(body: str) -> tuple[str, str | None]:
    try:
        return error_details(safe_json.loads(body))
    except json.JSONDecodeError:
        text = body.strip()
        return (text[:500] or "(empty body)"), None


def _retry_hint(message: str) -> float | None:
    """OpenAI puts the wait in the message: "Please try again in 1.5s" / "in 300ms"."""
    match = _TRY_AGAIN_RE.search(message)
    if not match:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def context_numbers(message: str) -> tuple[int | None, int | None]:
    """(limit, requested) in tokens from a context-length error message; None where unsaid."""
    for pattern, limit_group, requested_group in _CONTEXT_NUMBERS:
        match = pattern.search(message)
        if match:
            limit = int(match.group(limit_group).replace(",", ""))
            requested = (
                int(match.group(requested_group).replace(",", "")) if requested_group else None
            )
            return limit, requested
    return None, None


def is_context_error(message: str, code: str | None) -> bool:
    return bool(_CONTEXT_RE.search(f"{code or ''} {message}"))


def _auth_message(status: int | None, message: str, key_env: str | None, has_key: bool) -> str:
    where = f"${key_env}" if key_env else "the configured API key"
    prefix = f"authentication failed ({status})" if status else "authentication failed"
    hint = f"check {where}" if has_key else f"no API key was sent: set {where}"
    return f"{prefix}: {message} — {hint}"


def classify_error(
    message: str,
    code: str | None = None,
    status: int | None = None,
    *,
    retry_after: float | None = None,
    key_env: str | None = None,
    has_key: bool = True,
) -> ModelError:
    """Map an HTTP status and/or a provider error code to the right `ModelError`."""
    if status is None and code is not None and code.isdigit() and 400 <= int(code) < 600:
        status = int(code)
    shown = f"{message} [{code}]" if code and code not in message else message
    if retry_after is None:
        retry_after = _retry_hint(message)
    if (code in _AUTH_CODES) or status in (401, 402, 403):
        return AuthError(_auth_message(status, shown, key_env, has_key), status)
    if is_context_error(message, code) and status in (None, 400, 404, 413, 422):
        limit, requested = context_numbers(message)
        return ContextLengthError(
            f"context length exceeded: {shown}", status, limit=limit, requested=requested
        )
    if _TOOL_PARSE_RE.search(message):
        return ToolCallParseError(f"the server could not read the model's tool call: {shown}")
    if status in (408, 409, 429) or (status is not None and status >= 500):
        return RetryableError(f"model API error {status}: {shown}", status, retry_after)
    if status is None and code in _BAD_REQUEST_CODES:
        return BadRequestError(f"model API rejected the request: {shown}")
    if status is None:
        # An error event inside a stream that had started fine: overloads, rate limits and
        # server-side failures; retrying (bounded) is the right default.
        return RetryableError(f"model API error: {shown}", None, retry_after)
    return BadRequestError(f"model API rejected the request ({status}): {shown}", status)


#: What a stream assembler raises on an event of the wrong shape (a list where an object goes,
#: a number where text goes…): caught around each assembler step and reported as malformed.
SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError)


def malformed_event(error: Exception) -> MalformedResponseError:
    """A stream event the assembler could not take: a malformed reply (retried, then said)."""
    detail = f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return MalformedResponseError(f"model stream sent a malformed event ({detail})")


def stream_cut(what: str) -> RetryableError:
    """The stream ended before its completion event (`what` names the missing event)."""
    return RetryableError(f"model stream ended before {what}")


@functools.cache
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's verifying context for these SSL_CERT_FILE / SSL_CERT_DIR values, made once.

    A client's own context loads the whole CA bundle: ~20 ms and ~4 MB in some 200,000 small
    allocations per session, whose churn fragmented a long-running app-server's heap (RSS
    rose ~2.5 MB a minute while Python's objects stayed flat). OpenSSL contexts are safe to
    share between connections and threads.
    """
    return httpx.create_ssl_context(trust_env=True)


def shared_ssl_context() -> ssl.SSLContext:
    """The process's verifying context, honouring SSL_CERT_FILE and SSL_CERT_DIR as httpx does."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


class HttpTransport:
    """A base URL, default headers and an httpx AsyncClient; owns error mapping for all wires."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str] | None = None,
        *,
        timeout: float = 600.0,
        key_env: str | None = None,
        has_key: bool = True,
        client: httpx.AsyncClient | None = None,
        limits: StreamLimits | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limits = limits or StreamLimits()
        self.headers = dict(headers or {})
        self.key_env = key_env
        self.has_key = has_key
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            trust_env=True,
            verify=shared_ssl_context(),
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def error(self, message: str, code: str | None = None, **kw: Any) -> ModelError:
        error = classify_error(message, code, key_env=self.key_env, has_key=self.has_key, **kw)
        wait = getattr(error, "retry_after", None)
        cap = self.limits.max_retry_after
        if error.retryable and wait is not None and wait > cap:
            return RetryAfterTooLongError(
                f"{error} — the provider asked to wait {wait:.0f} s before retrying, longer "
                f"than lever waits ({cap:g} s, retry.max_retry_after); not retried",
                error.status,
            )
        return error

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = await head(response, _ERROR_BODY_BYTES)
        message, code = _body_details(body)
        raise self.error(
            message,
            code,
            status=response.status_code,
            retry_after=parse_retry_after(response.headers),
        )

    async def stream_sse(
        self, path: str, body: dict[str, Any] | bytes
    ) -> AsyncGenerator[tuple[str, SSEData], None]:
        """POST `body` (a dict, or JSON already encoded) and yield the reply's SSE events.

        A consumer that stops at the stream's completion event leaves at most the end of the
        chunked body unread; it is drained (briefly) so the connection goes back to the pool
        instead of being closed: no new TCP connection per request.
        """
        headers = {**self.headers, "accept": "text/event-stream"}
        content: dict[str, Any] = {"json": body}
        if isinstance(body, bytes):
            content = {"content": body}
            headers["content-type"] = "application/json"
        try:
            async with contextlib.AsyncExitStack() as stack:
                reply = self._client.stream("POST", self.url(path), headers=headers, **content)
                response = await self._headers(stack.enter_async_context(reply))
                await self._raise_for_status(response)
                events = self._watched(iter_sse(response, max_bytes=self.limits.max_bytes))
                async for event in events:
                    try:
                        yield event
                    except GeneratorExit:
                        await _drain(events)
                        raise
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc

    async def _headers(self, opening: Awaitable[httpx.Response]) -> httpx.Response:
        """The reply once its headers came, or a retryable error after `headers_timeout`."""
        wait = self.limits.headers_timeout
        try:
            async with asyncio.timeout(wait):
                return await opening
        except TimeoutError:
            message = f"model API sent no reply within {wait:g} s (stream_headers_timeout)"
            raise RetryableError(message) from None

    async def _watched(
        self, events: AsyncGenerator[tuple[str, SSEData], None]
    ) -> AsyncGenerator[tuple[str, SSEData], None]:
        """`events`, failing with a retryable stall when none comes for `idle_timeout` seconds.

        Only the wait for the next event is timed, not what the consumer does with one.
        """
        idle = self.limits.idle_timeout
        async with contextlib.aclosing(events):
            while True:
                try:
                    async with asyncio.timeout(idle):
                        event = await anext(events)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    message = f"model stream stalled: no event for {idle:g} s (stream_idle_timeout)"
                    raise RetryableError(message) from None
                yield event

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.request_json("GET", path, params=params)

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` and return the parsed JSON reply (for the few non-streaming endpoints)."""
        return await self.request_json("POST", path, body=body)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            response = await self._client.request(
                method, self.url(path), headers=self.headers, params=params, json=body
            )
            await self._raise_for_status(response)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        try:
            return safe_json.loads(response.content)
        except ValueError as exc:
            raise self.error(f"invalid JSON from {path}: {response.text[:200]!r}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


async def _drain(events: AsyncGenerator[Any, None], seconds: float = 0.25) -> None:
    """Read what is left of a finished stream, unless the task is being cancelled."""
    task = asyncio.current_task()
    if task is None or task.cancelling():
        return

    async def rest() -> None:
        async for _ in events:
            pass

    with contextlib.suppress(Exception):
        await asyncio.wait_for(rest(), seconds)


def transport_error(exc: httpx.HTTPError) -> ModelError:
    """Timeouts, refused connections and broken streams are retryable; the rest are not."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return RetryableError(f"connection to the model API failed ({detail})")
    return ModelError(f"HTTP request to the model API failed ({detail})")
