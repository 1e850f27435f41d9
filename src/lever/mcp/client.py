"""Connections to MCP servers (official `mcp` SDK): start, list tools, call, stop.

The SDK's transports and sessions are anyio context managers that must be entered and left in
one task, while a lever session is built synchronously (`build_session`) and its tools are run
from whatever event loop drives the turn. So the `McpManager` owns a small event loop on a
daemon thread: each server's connection is one task there holding its context managers open,
and every public method hands work to that loop. Callers never share a loop with the SDK.

A server starts on first use — for a session that is when it lists the tools, because the tool
list must be in the very first request — and is started again on the next call if it died.
Start-up failures, timeouts and lost connections become `McpError`s with a message meant for
the model or a person; nothing here raises anything else to the caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import mcp.types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

import lever
from lever.mcp.config import McpServerConfig

T = TypeVar("T")
#: Time left for the servers to stop (stdin closed, then terminate, then kill) at `aclose`.
CLOSE_TIMEOUT_S = 8.0
_LOG_TAIL_BYTES = 600


class McpError(Exception):
    """A server could not be started, reached or asked; the message says which and why."""


def describe_exception(error: BaseException) -> str:
    """The innermost meaningful error of an (exception group) chain, as one line."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, McpError):
        return str(error)
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"command not found: {error.filename}"
    if isinstance(error, MCPError) and error.code == types.CONNECTION_CLOSED:
        return "the server closed the connection (did it exit?)"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Connection:
    """One server's live `ClientSession`, owned by a task on the manager's loop."""

    def __init__(self, config: McpServerConfig, cwd: Path | None, log_path: Path | None) -> None:
        self.config = config
        self.cwd = cwd
        self.log_path = log_path
        self.session: ClientSession | None = None
        self.tools: list[types.Tool] = []
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._log: TextIO | None = None
        self._log_start = 0
        #: HTTP only: the latest error status the server answered with ("HTTP 401 Unauthorized").
        #: The SDK reports it as a bare "error response"; a person needs the status.
        self.http_error: str | None = None

    @property
    def alive(self) -> bool:
        return self.session is not None and self._task is not None and not self._task.done()

    async def ensure(self) -> ClientSession:
        """The live session, starting the server (again) if it is not running."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.alive:
                assert self.session is not None
                return self.session
            await self.stop()
            await self._start()
            assert self.session is not None
            return self.session

    async def _start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(ready), name=f"mcp-{self.config.name}")
        timeout = self.config.startup_timeout_s
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout)
        except TimeoutError:
            await self.stop(cancel=True)
            if ready.done() and not ready.cancelled():
                ready.exception()  # the stop's own "stopped": read, or asyncio logs it as lost
            raise McpError(self._why(f"did not start within {timeout:g} s")) from None
        except BaseException as e:
            await self.stop(cancel=True)
            why = describe_exception(e)
            if self.http_error:
                why = f"{why} ({self.http_error})"
            raise McpError(self._why(f"could not start: {why}")) from None

    async def _serve(self, ready: asyncio.Future[None]) -> None:
        """Hold the transport and session open until `stop`; all in this one task."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                info = types.Implementation(name="lever", version=lever.__version__)
                session = await stack.enter_async_context(
                    ClientSession(read, write, client_info=info)
                )
                await session.initialize()
                self.tools = await _list_all_tools(session)
                self.session = session
                ready.set_result(None)
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as e:  # reported through `ready`; the task itself ends quietly
            if not ready.done():
                ready.set_exception(e if isinstance(e, Exception) else McpError("stopped"))
        finally:
            self.session = None

    def _transport(self) -> contextlib.AbstractAsyncContextManager[Any]:
        config = self.config
        if config.url:
            self.http_error = None
            return _http_transport(config, self._saw_status)
        params = StdioServerParameters(
            command=config.command or "",
            args=list(config.args),
            env=dict(config.env) or None,
            cwd=self.cwd,
        )
        return stdio_client(params, errlog=self._open_log())

    def _saw_status(self, status: int, reason: str) -> None:
        if status >= 400:
            self.http_error = f"HTTP {status} {reason}".strip()

    def _open_log(self) -> TextIO:
        """The server's stderr goes to a log file, so it cannot garble lever's own output."""
        if self._log is None:
            if self.log_path is None:
                self._log = open(os.devnull, "w")  # noqa: SIM115 - closed in `stop`
            else:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
                self._log_start = self._log.tell()
        return self._log

    def _why(self, what: str) -> str:
        """`what`, plus the end of what the server wrote on stderr this time, if anything."""
        message = f"MCP server {self.config.name!r} ({self.config.describe()}) {what}"
        if self.log_path is None or not self.log_path.exists():
            return message
        with self.log_path.open("rb") as f:
            f.seek(max(self._log_start, self.log_path.stat().st_size - _LOG_TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace").strip()
        return f"{message}\n[its stderr ends with]\n{tail}" if tail else message

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        session = await self.ensure()
        timeout = self.config.tool_timeout_s
        try:
            # The SDK's own timeout answers first; ours is only there if it does not.
            return await asyncio.wait_for(
                session.call_tool(tool, arguments, read_timeout_seconds=timeout), timeout + 5
            )
        except TimeoutError:
            raise McpError(f"the call to {tool} timed out after {timeout:g} s") from None
        except MCPError as e:
            if e.code == types.REQUEST_TIMEOUT:
                raise McpError(f"the call to {tool} timed out after {timeout:g} s") from None
            if e.code == types.CONNECTION_CLOSED:
                await self.stop(cancel=True)
                raise McpError(self._why("closed the connection during the call")) from None
            raise McpError(f"the server answered with an error: {e.message}") from None
        except Exception as e:  # a broken pipe, a garbled reply...
            await self.stop(cancel=True)
            raise McpError(self._why(f"failed during the call: {describe_exception(e)}")) from None

    async def stop(self, *, cancel: bool = False) -> None:
        """Leave the session and stop the server (gracefully, unless `cancel`)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            if cancel:
                task.cancel()
            elif self._stop is not None:
                self._stop.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, CLOSE_TIMEOUT_S)
        self.session = None
        if self._log is not None:
            self._log.close()
            self._log = None


def http_headers(config: McpServerConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The headers of every request to an HTTP server, the bearer token read from `environ`.

    Raises `McpError` naming the variable (never a value) when the token is missing.
    """
    headers = dict(config.headers)
    var = config.bearer_token_env_var
    if var:
        token = environ.get(var, "").strip()
        if not token:
            # Reported as "MCP server NAME (URL) could not start: ..." by `_start`.
            raise McpError(f"the environment variable {var} (bearer_token_env_var) is not set")
        headers["Authorization"] = f"Bearer {token}"
    return headers


@contextlib.asynccontextmanager
async def _http_transport(
    config: McpServerConfig, on_status: Callable[[int, str], None]
) -> AsyncIterator[Any]:
    """Streamable HTTP, with the configured headers on one HTTP client we own and close."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    assert config.url is not None
    headers = http_headers(config, os.environ)

    async def status_of(response: Any) -> None:
        # Messages go by POST; a GET is the optional event stream, which servers may refuse.
        if response.request.method == "POST":
            on_status(response.status_code, response.reason_phrase)

    # The SDK's own client factory keeps its timeouts (a long read timeout for the SSE stream).
    async with create_mcp_http_client(headers=headers) as http:
        http.event_hooks["response"].append(status_of)
        async with streamable_http_client(config.url, http_client=http) as streams:
            yield streams


async def _list_all_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


class McpManager:
    """The MCP servers of one session. Thread- and loop-agnostic: see the module docstring."""

    def __init__(
        self,
        servers: Sequence[McpServerConfig],
        *,
        cwd: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.servers = {server.name: server for server in servers}
        self._connections = {
            server.name: _Connection(
                server, cwd, log_dir / f"mcp-{server.name}.log" if log_dir else None
            )
            for server in servers
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._closed = False

    # -- the loop thread -------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._guard:
            if self._closed:
                coro.close()
                raise McpError("the MCP servers of this session are already shut down")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="lever-mcp", daemon=True
                )
                self._thread.start()
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    # -- listing ---------------------------------------------------------------------------

    def list_tools_blocking(self) -> dict[str, list[types.Tool] | McpError]:
        """Start every server at once and list its tools; blocks, bounded by the start timeouts.

        A server that fails (or lists no tools) is stopped again; its entry is the error.
        """
        if not self.servers:
            return {}
        longest = max(server.startup_timeout_s for server in self.servers.values())
        future = self._submit(self._list_all())
        try:
            return future.result(timeout=longest + CLOSE_TIMEOUT_S + 2)
        except concurrent.futures.TimeoutError:
            future.cancel()
            error = McpError(f"MCP servers did not start within {longest:g} s")
            return {name: error for name in self.servers}

    async def _list_all(self) -> dict[str, list[types.Tool] | McpError]:
        names = list(self._connections)
        results = await asyncio.gather(*(self._list_one(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _list_one(self, name: str) -> list[types.Tool] | McpError:
        connection = self._connections[name]
        try:
            await connection.ensure()
        except McpError as e:
            return e
        if not connection.tools:
            await connection.stop()
        return list(connection.tools)

    # -- calls -----------------------------------------------------------------------------

    async def call_tool(
        self, server: str, tool: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """Call `tool` on `server` from any loop; raises `McpError` with a readable message."""
        connection = self._connections.get(server)
        if connection is None:
            raise McpError(f"no MCP server named {server!r} is configured")
        return await asyncio.wrap_future(self._submit(connection.call(tool, arguments)))

    # -- shutdown --------------------------------------------------------------------------

    async def _stop_all(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()))

    def close(self) -> None:
        """Stop every server and the loop thread (blocking); safe to call twice."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._stop_all(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=CLOSE_TIMEOUT_S + 2)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=2)
        if not thread.is_alive():
            loop.close()

    async def aclose(self) -> None:
        """`close` without blocking the caller's event loop (a session calls this at its end)."""
        await asyncio.to_thread(self.close)
