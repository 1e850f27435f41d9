"""`lever app-server` answers hostile JSON-RPC lines with errors and keeps serving."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import assert_group_gone, lever_bin


class Server:
    """A raw line-level client: sends exactly the bytes given, reads one message per line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [lever_bin(), "app-server"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._buffer = b""

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 15) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "no answer from the app-server in time"
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, f"the app-server closed stdout: {self.stderr()}"
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def answer(self, request_id: int) -> dict[str, Any]:
        while True:
            message = self.receive()
            if message.get("id") == request_id:
                return message

    def stderr(self) -> str:
        return ""  # read only once the process ended (a pipe read now could block)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        finally:
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self.proc.stdout.close()
            self.stderr_text = self.proc.stderr.read().decode(errors="replace")
            self.proc.stderr.close()
        assert_group_gone(self.proc.pid)
        return code


def initialize(request_id: int) -> bytes:
    params = {"client_name": "test", "protocol_version": "1"}
    message = {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}
    return json.dumps(message).encode()


DEEP_LINES = {
    # ~10 KB of brackets: before, RecursionError killed the server and every session it held.
    "array": b"[" * 5000 + b"]" * 5000,
    "in params": b'{"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {"x": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}}",
    "unclosed": b'{"a":' + b"{" * 10000,
}


@pytest.mark.parametrize("name", list(DEEP_LINES))
def test_deeply_nested_line_is_answered_and_the_server_keeps_serving(name, env, work) -> None:
    server = Server(env, work)
    try:
        server.send(initialize(1))
        assert "result" in server.answer(1)
        server.send(DEEP_LINES[name])
        error = server.receive()
        assert error["error"]["code"] in (-32700, -32600), error
        assert "nested deeper than" in error["error"]["message"]
        server.send(initialize(2))  # the next request is served as if nothing happened
        assert "result" in server.answer(2)
    finally:
        code = server.close()
    assert code == 0, server.stderr_text
    assert "Traceback" not in server.stderr_text


def test_garbage_and_huge_lines_do_not_stop_the_server(env, work) -> None:
    server = Server(env, work)
    try:
        for line in (b"\xff\xfe not json", b"{" + b'"a":1,' * 3, b"null", b"[1, 2]"):
            server.send(line)
            error = server.receive()
            assert error["error"]["code"] in (-32700, -32600), error
        server.send(initialize(3))
        assert "result" in server.answer(3)
    finally:
        code = server.close()
    assert code == 0, server.stderr_text
