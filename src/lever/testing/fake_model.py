"""The model in lever's tests: a real HTTP server that plays a script and records requests.

It listens on 127.0.0.1 and speaks the three wire protocols lever's clients use, exactly as the
real APIs do (rendering lives in `lever.testing.fake_wire`):

- `POST /v1/responses`         OpenAI Responses (SSE events, or the response object)
- `POST /v1/chat/completions`  Chat Completions (chunks ending in `data: [DONE]`, or a completion)
- `POST /v1/messages`          Anthropic Messages (SSE events, or the message object)
- `GET  /v1/models`            the model list (OpenAI shape; Anthropic shape if the request has an
                               `anthropic-version` header)
- `GET  /_fake/requests`       the recorded requests as JSON, for a server run as a subprocess
                               (`?raw=1`: also `raw_b64`, the body as received, and
                               `received`, its arrival time)

Script: `{"turns": [TURN, ...], "models": ["fake-model"]}` or just a list of TURNs. Each model
request (a POST on any of the three endpoints) consumes the next TURN, whatever its protocol.
A TURN is a dict with optional keys:

- `text`: the assistant message text, streamed in a few deltas.
- `reasoning`: a reasoning summary, emitted before the text and tool calls.
- `tool_calls`: `[{"name", "arguments": dict | str, "call_id"?}]`. A dict is JSON-encoded, a str is
  sent raw (to test broken arguments). Missing call ids are generated from a per-server counter:
  "call_1", "call_2", ... on the OpenAI protocols, "toolu_1", ... on Anthropic.
- `usage`: `{"input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"}`, each
  optional; defaults: input = request body bytes // 4, output = output text chars // 4 + 1,
  cached = 0, reasoning = reasoning chars // 4. Input counts the whole prompt, cached included.
- `delay_ms`: sleep before answering.
- `event_delay_ms`: sleep between streamed events (to test interrupting a stream).
- `error`: `{"status", "message", "retry_after"?, "code"?}`: answer with that HTTP error, in the
  protocol's error format (Anthropic's has no `code`, so it is dropped there).
- `drop_after`: stream only the first N events, then close the connection without finishing the
  chunked body (the client sees a broken stream). For a non-streaming request: send half the body.
- `raw`: send this exact text as the body (an SSE stream if the request asked for one).
- `cut`: true ends the reply as one cut at the output-token limit: Responses
  `response.incomplete` (reason `max_output_tokens`), Chat `finish_reason: "length"`, Anthropic
  `stop_reason: "max_tokens"`. Give the text or a tool call's `arguments` (a str) as cut off.
- `fault`: "stall" or "endless": a streamed reply that never ends (`lever.testing.fake_faults`).

Every request is checked before it is played (`lever.testing.fake_checks`): one whose tool calls
and outputs do not pair up is refused with a 400 as the real API would refuse it, and recorded in
`violations` (the pytest plugin `lever.testing.pytest_plugin` fails the test). With
`context_limit=N` (`--context-limit N`), every request over N tokens is refused with the
provider's real context-length error; neither consumes a turn.

When the script is exhausted the server answers 400 "fake model: script exhausted (N requests)",
N counting this request. Requests failing the api-key check or carrying unparseable JSON get an
error without consuming a turn. Every POST is recorded, whatever its fate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from lever.testing import fake_checks
from lever.testing.fake_checks import LIMIT_STYLES, TokenCounter
from lever.testing.fake_http import PROTOCOLS, FakeHTTPServer, Handler
from lever.testing.fake_script import (
    RecordedRequest,
    ScriptError,
    ScriptSource,
    load_script,
    validate_turn,
)
from lever.testing.fake_wire import JSON, Reply, ToolCallOut, Usage

__all__ = [
    "DEFAULT_MODELS",
    "PROTOCOLS",
    "FakeModelServer",
    "RecordedRequest",
    "ScriptError",
    "load_script",
    "main",
]

DEFAULT_MODELS = ["fake-model"]


class FakeModelServer:
    """A scripted model behind real HTTP. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        script: ScriptSource = (),
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        port: int = 0,
        responder: Callable[[dict[str, Any]], Mapping[str, Any] | None] | None = None,
        context_limit: int | None = None,
        limit_style: str = "openai",
        token_counter: TokenCounter | None = None,
        check_pairing: bool = True,
    ) -> None:
        turns, script_models = load_script(script)
        if limit_style not in LIMIT_STYLES:
            raise ValueError(f"limit_style must be one of {LIMIT_STYLES}, not {limit_style!r}")
        #: Refuse every request over this many tokens with the provider's context-length error.
        self.context_limit = context_limit
        #: Which server's error a Chat Completions request gets ("openai", "vllm", "llama.cpp");
        #: "in-stream": a streamed Responses request gets `response.failed`, not a 400.
        self.limit_style = limit_style
        self.token_counter: TokenCounter = token_counter or fake_checks.count_tokens
        #: Refuse (400) and record requests whose tool calls and outputs do not pair up.
        self.check_pairing = check_pairing
        #: (request number, path, the provider's complaint) for each pairing violation seen.
        self.violations: list[tuple[int, str, str]] = []
        #: Sees each request body first; a turn it returns is played instead of the script's next
        #: one (which stays next). For requests whose position is not known in advance, such as
        #: the summary request of a compaction.
        self.responder = responder
        self.api_key = api_key
        self.models = list(models or script_models or DEFAULT_MODELS)
        self._turns = turns
        self._next_turn = 0
        self._taken = 0  # model requests that asked for a turn, exhausted ones included
        self._requests: list[RecordedRequest] = []
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._port = port
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        fake_checks.register(self)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        port: int = 0,
        **options: Any,
    ) -> FakeModelServer:
        return cls(Path(path), api_key=api_key, models=models, port=port, **options)

    # -- lifecycle

    def start(self) -> FakeModelServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = FakeHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.fake = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"fake-model:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping on delay_ms
        httpd.shutdown()
        httpd.server_close()
        # Keep-alive connections sit in their own threads; cut them so none outlive the server.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what tests use

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT` — what the Anthropic SDK wants as its base URL."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1` — what OpenAI-style clients want as their base URL."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every POST received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def bodies(self, path_suffix: str | None = None) -> list[dict[str, Any]]:
        """The JSON bodies of the recorded requests whose path ends with `path_suffix`."""
        return [
            r.body for r in self.requests if path_suffix is None or r.path.endswith(path_suffix)
        ]

    @property
    def turns_used(self) -> int:
        """How many script turns have been consumed."""
        with self._lock:
            return self._next_turn

    @property
    def turns_left(self) -> int:
        with self._lock:
            return max(0, len(self._turns) - self._next_turn)

    def take_violations(self) -> list[tuple[int, str, str]]:
        """The pairing violations seen so far, forgotten by the server (for tests that cause
        them on purpose: what is left fails the test, see `lever.testing.pytest_plugin`)."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken

    def add_turns(self, turns: Sequence[Mapping[str, Any]]) -> None:
        """Append turns to the script, e.g. once a test knows what the next answer must be."""
        start = len(self._turns)
        new = [validate_turn(turn, start + i) for i, turn in enumerate(turns)]
        with self._lock:
            self._turns.extend(new)

    # -- used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _pairing_problems(self, record: RecordedRequest, body: dict[str, Any]) -> list[str]:
        if not self.check_pairing:
            return []
        problems = fake_checks.pairing_violations(record.protocol, body)
        with self._lock:
            number = next(i for i, r in enumerate(self._requests, 1) if r is record)
            self.violations += [(number, record.path, p) for p in problems]
        return problems

    def _take_turn(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(index, turn) for the next request; turn is None once the script is exhausted.

        Once exhausted, the index is the number of model requests so far (this one included),
        and the position stays put, so turns added later are still played in order.
        """
        answer = self.responder(body) if self.responder is not None else None
        with self._lock:
            self._taken += 1
            if answer is not None:
                return -1, validate_turn(answer, -1)
            if self._next_turn >= len(self._turns):
                return self._taken, None
            self._next_turn += 1
            return self._next_turn - 1, self._turns[self._next_turn - 1]

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids[prefix] = n = self._ids.get(prefix, 0) + 1
        return f"{prefix}{n}"

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        if self.api_key is None:
            return True
        # Either header is accepted on every endpoint, so one key works for all clients.
        return (
            headers.get("authorization") == f"Bearer {self.api_key}"
            or headers.get("x-api-key") == self.api_key
        )

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, ms: float) -> bool:
        """Sleep unless the server stops meanwhile; False means it is stopping."""
        return not self._stopping.wait(ms / 1000) if ms > 0 else not self._stopping.is_set()

    def _reply(self, turn: Mapping[str, Any], body: JSON, body_size: int) -> Reply:
        calls = [
            ToolCallOut(
                name=c["name"],
                arguments=_arguments_text(c.get("arguments", {})),
                call_id=c.get("call_id"),
            )
            for c in turn.get("tool_calls", [])
        ]
        text, reasoning = turn.get("text"), turn.get("reasoning")
        out_chars = sum(len(s) for s in (text or "", reasoning or ""))
        out_chars += sum(len(c.name) + len(c.arguments) for c in calls)
        given = turn.get("usage", {})
        output = given.get("output_tokens", out_chars // 4 + 1)
        usage = Usage(
            input_tokens=given.get("input_tokens", body_size // 4),
            output_tokens=output,
            cached_input_tokens=given.get("cached_input_tokens", 0),
            reasoning_tokens=given.get("reasoning_tokens", min(output, len(reasoning or "") // 4)),
        )
        # Echo the requested model like real servers; fall back to the first listed one.
        requested = body.get("model")
        model = requested if isinstance(requested, str) else self.models[0]
        return Reply(
            model=model,
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            usage=usage,
            cut=bool(turn.get("cut")),
        )


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    # Compact JSON, as real models emit it; a str is sent as is (maybe deliberately broken).
    return arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))


# --------------------------------------------------------------------------- subprocess mode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lever.testing.fake_model",
        description="Serve a scripted fake model on 127.0.0.1 until killed. "
        "The first line printed is the base URL (http://127.0.0.1:PORT/v1).",
    )
    parser.add_argument("--script", required=True, help="JSON script file")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--api-key", default=None, help="require this API key")
    parser.add_argument(
        "--model", action="append", dest="models", help="a model name to list (repeatable)"
    )
    parser.add_argument(
        "--context-limit",
        type=int,
        default=None,
        help="refuse every request over N tokens (body bytes / 4) with a context-length error",
    )
    parser.add_argument(
        "--limit-style",
        choices=LIMIT_STYLES,
        default="openai",
        help="whose context-length error a Chat Completions request gets; in-stream: "
        "Responses requests get response.failed",
    )
    args = parser.parse_args(argv)

    server = FakeModelServer.from_file(
        args.script,
        api_key=args.api_key,
        models=args.models,
        port=args.port,
        context_limit=args.context_limit,
        limit_style=args.limit_style,
    )

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    # SIGTERM (what subprocess.terminate sends) becomes a normal exit, so the server closes.
    signal.signal(signal.SIGTERM, terminate)
    server.start()
    try:
        print(server.base_url, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
