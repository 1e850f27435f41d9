"""The HTTP side of the fake model server: routing, api-key checks, streaming, errors.

Built on the standard library's threading HTTP server; one thread per connection. Speaks
HTTP/1.1 so SDK clients keep connections alive and streams use chunked encoding, which is also
what lets `drop_after` produce a body the client can tell is incomplete.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lever.testing import fake_checks, fake_faults, fake_wire, fake_wire_anthropic
from lever.testing.fake_script import RecordedRequest
from lever.testing.fake_wire import JSON

if TYPE_CHECKING:
    from lever.testing.fake_model import FakeModelServer

#: Request path -> wire protocol name (the names `ModelClient.wire` uses).
PROTOCOLS = {
    "/v1/responses": "openai-responses",
    #: OpenAI's server-side compaction (non-streaming); consumes a turn like any model request.
    "/v1/responses/compact": "openai-responses",
    "/v1/chat/completions": "openai-chat",
    "/v1/messages": "anthropic",
}


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeModelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a killed `lever exec`, a closed keep-alive) is normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so SDK clients keep connections alive and streams use chunked encoding, which
    # is also what lets `drop_after` produce a detectably incomplete body.
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real API servers: on a kept-alive connection, Nagle's algorithm against
    # the client's delayed ACK stalls each small streamed write by up to 40 ms.
    disable_nagle_algorithm = True
    server: FakeHTTPServer
    _responded: bool = False
    #: The POST being answered; its status is set as the status line goes out, before the
    #: client can see the answer, so a test never reads a status that is not there yet.
    _record: RecordedRequest | None = None

    @property
    def fake(self) -> FakeModelServer:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, alive=True)

    def finish(self) -> None:
        self.fake._track(self.connection, alive=False)
        # The client (or drop_after) may already have closed the socket.
        with contextlib.suppress(OSError):
            super().finish()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True  # from here on, an error can only be reported by hanging up
        if self._record is not None:
            self._record.status = code
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the recorded requests say what happened

    # -- GET: model list and the request log

    def do_GET(self) -> None:
        self._record = None  # GETs are not recorded (keep-alive reuses this handler)
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path == "/_fake/requests":
            # `?raw=1` adds each body exactly as received, base64-encoded (byte-level checks).
            raw = "raw=1" in urlsplit(self.path).query
            self._send_json(200, [_recorded_json(r, raw) for r in self.fake.requests])
            return
        anthropic = "anthropic-version" in headers
        if path == "/v1/models" or path.startswith("/v1/models/"):
            if not self.fake._authorized(headers):
                self._send_error(401, "invalid api key", "anthropic" if anthropic else None)
                return
            entries = [_model_entry(m, anthropic) for m in self.fake.models]
            if path == "/v1/models":
                self._send_json(200, _model_list(entries, anthropic))
                return
            wanted = path.removeprefix("/v1/models/")
            for entry in entries:
                if entry["id"] == wanted:
                    self._send_json(200, entry)
                    return
            message = f"The model '{wanted}' does not exist"
            self._send_error(404, message, "anthropic" if anthropic else None)
            return
        self._send_error(404, f"Invalid URL (GET {path})", None)

    # -- POST: model requests

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self._read_body(headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        body: JSON = parsed if isinstance(parsed, dict) else {}
        protocol = PROTOCOLS.get(url.path)
        record = RecordedRequest("POST", url.path, headers, body, url.query, protocol, raw=raw)
        self.fake._record(record)
        self._responded = False
        self._record = record
        try:
            self._serve_post(record, parsed, len(raw))
        except Exception as exc:
            # A bug in the fake (or a script it cannot play) must fail the test with a clear
            # message, not leave the client waiting on a silent connection.
            traceback.print_exc()
            if not self._responded:
                self._send_error(500, f"fake model crashed: {exc!r}", protocol)
            self.close_connection = True

    def _serve_post(self, record: RecordedRequest, parsed: Any, size: int) -> None:
        protocol, headers, body = record.protocol, record.headers, record.body
        if protocol is None:
            self._send_error(404, f"Invalid URL (POST {record.path})", None)
            return
        if not self.fake._authorized(headers):
            message = (
                "invalid x-api-key"
                if protocol == "anthropic"
                else "Incorrect API key provided. You can find your API key in your settings."
            )
            self._send_error(401, message, protocol)
            return
        if not isinstance(parsed, dict):
            message = "We could not parse the JSON body of your request."
            self._send_error(400, message, protocol)
            return
        if self._refuse(record, protocol, parsed):
            return

        index, turn = self.fake._take_turn(parsed)
        if turn is None:
            message = f"fake model: script exhausted ({index} requests)"
            self._send_error(400, message, protocol)
            return
        record.turn = index
        if not self.fake._sleep(turn.get("delay_ms", 0)):
            self.close_connection = True
            return
        if record.path.endswith("/responses/compact") and "error" not in turn:
            self._send_json(200, fake_wire.compact_json(turn, body, self.fake._new_id))
            return
        self._answer(turn, protocol, body, size)

    def _refuse(self, record: RecordedRequest, protocol: str, body: JSON) -> bool:
        """Refuse, as the real API would, a request with unpaired tool calls or over the limit."""
        problems = self.fake._pairing_problems(record, body)
        if problems:
            record.rejected = "pairing"
            self._send_error(400, fake_checks.PAIRING_PREFIX + " ".join(problems), protocol)
            return True
        limit = self.fake.context_limit
        tokens = self.fake.token_counter(record.raw)
        if limit is None or tokens <= limit:
            return False
        record.rejected = "context_limit"
        style = self.fake.limit_style
        streamed = body.get("stream") is True and record.path == "/v1/responses"
        if style == "in-stream" and streamed:
            try:
                self._start_stream(protocol)
                for event in fake_checks.responses_failed_stream(body, self.fake._new_id):
                    self._write_chunk(event)
                self._write_chunk(b"")
            except OSError:
                self.close_connection = True
            return True
        status, obj = fake_checks.context_error(protocol, style, tokens, limit)
        if protocol == "anthropic":
            obj["request_id"] = self.fake._new_id("req_fake")
        self._send_bytes(status, json.dumps(obj).encode(), "application/json", protocol)
        return True

    def _answer(self, turn: Mapping[str, Any], protocol: str, body: JSON, size: int) -> None:
        stream = body.get("stream") is True
        error = turn.get("error")
        if error is not None:
            status = int(error["status"])
            message = error.get("message") or f"fake model: scripted {status} error"
            self._send_error(status, message, protocol, error.get("code"), error.get("retry_after"))
            return
        if "raw" in turn:
            self._answer_raw(turn["raw"].encode(), protocol, stream)
            return

        reply = self.fake._reply(turn, body, size)
        drop_after = turn.get("drop_after")
        new_id = self.fake._new_id
        if not stream:
            self._answer_json(reply, body, protocol, drop_after)
            return

        render_sse = {
            "openai-responses": fake_wire.responses_sse,
            "openai-chat": fake_wire.chat_sse,
            "anthropic": fake_wire_anthropic.anthropic_sse,
        }[protocol]
        events = render_sse(reply, body, new_id)
        self._start_stream(protocol)
        try:
            if "fault" in turn:  # a reply that never ends (lever.testing.fake_faults)
                self.close_connection = True
                fake_faults.play(
                    turn["fault"], turn.get("text", ""), events, self._write_chunk, self.fake._sleep
                )
                return
            for i, event in enumerate(events):
                if drop_after is not None and i >= drop_after:
                    # No terminating chunk: the client sees the connection die mid-body.
                    self.close_connection = True
                    return
                if i and not self.fake._sleep(turn.get("event_delay_ms", 0)):
                    self.close_connection = True
                    return
                self._write_chunk(event)
            self._write_chunk(b"")
        except OSError:
            self.close_connection = True  # the client went away mid-stream

    def _answer_raw(self, data: bytes, protocol: str, stream: bool) -> None:
        """The script's exact text as the body (an SSE stream if one was asked for)."""
        if not stream:
            self._send_bytes(200, data, "application/json", protocol)
            return
        try:
            self._start_stream(protocol)
            self._write_chunk(data)
            self._write_chunk(b"")
        except OSError:
            self.close_connection = True

    def _answer_json(self, reply: Any, body: JSON, protocol: str, drop_after: Any) -> None:
        """A non-streaming reply; with `drop_after`, half of it and a hang-up."""
        render_json = {
            "openai-responses": fake_wire.responses_json,
            "openai-chat": fake_wire.chat_json,
            "anthropic": fake_wire_anthropic.anthropic_json,
        }[protocol]
        payload = json.dumps(render_json(reply, body, self.fake._new_id)).encode()
        if drop_after is None:
            self._send_bytes(200, payload, "application/json", protocol)
        else:
            # Promise the whole body, deliver half of it, hang up.
            self._send_bytes(200, payload, "application/json", protocol, cut=len(payload) // 2)
            self.close_connection = True

    # -- HTTP plumbing

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailers up to the blank line that ends the body.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(headers.get("content-length") or 0))

    def _request_id_header(self, protocol: str | None) -> tuple[str, str]:
        name = "request-id" if protocol == "anthropic" else "x-request-id"
        return name, self.fake._new_id("req_fake")

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        protocol: str | None,
        extra: Mapping[str, str] | None = None,
        cut: int | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header(*self._request_id_header(protocol))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data if cut is None else data[:cut])
        except OSError:
            self.close_connection = True

    def _send_json(self, status: int, obj: Any) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), "application/json", None)

    def _send_error(
        self,
        status: int,
        message: str,
        protocol: str | None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if protocol == "anthropic":
            obj = fake_wire_anthropic.anthropic_error(
                status, message, self.fake._new_id("req_fake")
            )
        else:
            obj = fake_wire.openai_error(status, message, code)
        extra = {}
        if retry_after is not None:
            extra["retry-after"] = _format_seconds(retry_after)
        payload = json.dumps(obj).encode()
        self._send_bytes(status, payload, "application/json", protocol, extra)

    def _start_stream(self, protocol: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header(*self._request_id_header(protocol))
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        # One HTTP chunk per event, written at once, so clients see events as they are "made".
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _model_entry(model: str, anthropic: bool) -> JSON:
    if anthropic:
        return {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": "2025-01-01T00:00:00Z",
        }
    return {"id": model, "object": "model", "created": 1_735_689_600, "owned_by": "lever-fake"}


def _model_list(entries: list[JSON], anthropic: bool) -> JSON:
    if anthropic:
        return {
            "data": entries,
            "has_more": False,
            "first_id": entries[0]["id"] if entries else None,
            "last_id": entries[-1]["id"] if entries else None,
        }
    return {"object": "list", "data": entries}


def _recorded_json(request: RecordedRequest, raw: bool) -> dict[str, Any]:
    data = request.to_json()
    if raw:
        data["raw_b64"] = base64.b64encode(request.raw).decode("ascii")
        data["received"] = request.received
    return data
