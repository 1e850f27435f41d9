"""The app-server's wire: reading requests, answering each in its own task, writing lines.

Requests are handled concurrently so that a slow one (a `session/new` waiting for its MCP
servers, a `models/list` against a slow model server) never holds up a `turn/interrupt` or an
`approval/respond` sent after it. Responses therefore carry their ids and may come out of order.

Every line goes through one `LineWriter`: a message is written whole under a lock, so lines
never interleave, and in the order they were produced. Events are emitted synchronously on the
event loop, so the notifications of one session keep their event order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError

from lever import safe_json
from lever.server import rpc

Handler = Callable[[Any], Awaitable[BaseModel]]


class RpcError(Exception):
    """A request that cannot be answered with a result; `code` is the JSON-RPC error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class LineWriter:
    """The one way to the client: whole JSON lines, one at a time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        # The event loop is the only writer today; the lock keeps a line whole should a thread
        # ever write too (sessions are built in worker threads).
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the client went away; shutting down follows from stdin's end

    def send(self, message: BaseModel | dict[str, Any]) -> None:
        if isinstance(message, BaseModel):
            self.write(message.model_dump_json(exclude_none=True))
        else:
            self.write(json.dumps(message, separators=(",", ":")))

    def error(self, request_id: rpc.RequestId | None, code: int, message: str) -> None:
        # `id` stays, null when the request's id could not be read (JSON-RPC 2.0 §5).
        error = {"code": code, "message": message}
        self.send({"jsonrpc": "2.0", "id": request_id, "error": error})


class Dispatcher:
    """Reads requests and runs each one's handler as its own task."""

    def __init__(
        self,
        wire: LineWriter,
        handlers: Mapping[str, Handler],
        error_codes: Mapping[type[Exception], int],
    ) -> None:
        self.wire = wire
        self.handlers = handlers
        #: Exceptions a handler may raise on purpose, and the error code each is answered with.
        self.error_codes = error_codes
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_progress(self) -> int:
        return len(self._tasks)

    async def read(self, reader: asyncio.StreamReader) -> None:
        """Start a task for every request until stdin ends."""
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than the reader's limit
                self.wire.error(None, rpc.INVALID_REQUEST, "message too long")
                continue
            if not line:
                return
            if line.strip():
                self.handle_line(line)

    def handle_line(self, line: bytes | str) -> asyncio.Task[None] | None:
        """Answer malformed messages at once; a request gets a task (returned)."""
        try:
            message = safe_json.loads(line)
        except ValueError as e:
            self.wire.error(None, rpc.PARSE_ERROR, f"not JSON: {e}")
            return None
        if not isinstance(message, dict):
            message_error = "a message must be one JSON object (no batches)"
            self.wire.error(None, rpc.INVALID_REQUEST, message_error)
            return None
        if "id" not in message:
            return None  # a notification from the client (e.g. "initialized"): nothing to answer
        if "method" not in message:
            return None  # a response: this server sends no requests
        try:
            request = rpc.IncomingRequest.model_validate(message)
        except ValidationError as e:
            request_id = message.get("id")
            if not isinstance(request_id, int | str):
                request_id = None
            self.wire.error(request_id, rpc.INVALID_REQUEST, f"invalid request: {brief(e)}")
            return None
        task = asyncio.create_task(self._answer(request), name=f"rpc {request.method}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _answer(self, request: rpc.IncomingRequest) -> None:
        handler = self.handlers.get(request.method)
        if handler is None:
            known = ", ".join(self.handlers)
            message = f"unknown method {request.method!r} (known: {known})"
            self.wire.error(request.id, rpc.METHOD_NOT_FOUND, message)
            return
        params_model = rpc.METHODS[request.method][0]
        try:
            params = params_model.model_validate(request.params)
        except ValidationError as e:
            message = f"invalid params for {request.method}: {brief(e)}"
            self.wire.error(request.id, rpc.INVALID_PARAMS, message)
            return
        try:
            result = await handler(params)
        except asyncio.CancelledError:
            # Only `finish` cancels: a client still reading learns why it got no result.
            self.wire.error(request.id, rpc.INTERNAL_ERROR, "cancelled: the server is stopping")
            raise
        except RpcError as e:
            self.wire.error(request.id, e.code, str(e))
        except Exception as e:
            code = self._code_of(e)
            if code is None:
                traceback.print_exc(file=sys.stderr)
                self.wire.error(request.id, rpc.INTERNAL_ERROR, f"{type(e).__name__}: {e}")
            else:
                self.wire.error(request.id, code, str(e))
        else:
            # No await between the handler's return and this write: whatever the handler
            # started (a turn) cannot get its events out before this response.
            result_json = result.model_dump(mode="json", exclude_none=True)
            self.wire.send({"jsonrpc": "2.0", "id": request.id, "result": result_json})

    def _code_of(self, error: Exception) -> int | None:
        for kind, code in self.error_codes.items():
            if isinstance(error, kind):
                return code
        return None

    async def finish(self, grace_s: float) -> None:
        """Let the requests in progress end for up to `grace_s`, then cancel the rest.

        stdin's end is not a reason to drop answers already asked for (`printf ... | lever
        app-server` is a fine client), but nothing may keep the server alive for long.
        """
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def brief(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "(message)"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)
