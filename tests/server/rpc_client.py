"""A JSON-RPC client for the tests: drives `lever app-server` over its pipes and checks every
message it sends and receives against the checked-in schema."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "schema" / "app-server.v1.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())

Message = dict[str, Any]


class SchemaCheck:
    """jsonschema when installed; otherwise the pydantic models the schema is generated from."""

    def __init__(self) -> None:
        try:
            import jsonschema
        except ImportError:
            self._jsonschema: Any = None
        else:
            self._jsonschema = jsonschema
        self.checked = 0

    def _validate(self, message: Message, ref: str) -> None:
        self.checked += 1
        if self._jsonschema is not None:
            validator = self._jsonschema.Draft202012Validator
            validator(SCHEMA).validate(message)  # the root: any message of the protocol
            validator({"$defs": SCHEMA["$defs"], "$ref": ref}).validate(message)
            return
        from lever.server.schema import envelopes, message_adapter

        message_adapter().validate_python(message)
        name = ref.rsplit("/", 1)[-1]
        for kinds in envelopes().values():
            for model in kinds.values():
                if model.__name__ == name:
                    model.model_validate(message)

    def request(self, message: Message) -> None:
        self._validate(message, SCHEMA["x-methods"][message["method"]]["request"]["$ref"])

    def rejects(self, message: Message) -> None:
        """A deliberately malformed request: the root schema must refuse it."""
        if self._jsonschema is not None:
            validator = self._jsonschema.Draft202012Validator(SCHEMA)
            assert not validator.is_valid(message), message
            return
        from pydantic import ValidationError

        from lever.server.schema import message_adapter

        try:
            message_adapter().validate_python(message)
        except ValidationError:
            return
        raise AssertionError(f"the schema accepts {message}")

    def response(self, method: str, message: Message) -> None:
        if "error" in message:
            self._validate(message, "#/$defs/ErrorResponse")
        else:
            self._validate(message, SCHEMA["x-methods"][method]["response"]["$ref"])

    def notification(self, message: Message) -> None:
        self._validate(message, SCHEMA["x-notifications"][message["method"]]["$ref"])


class RpcClient:
    def __init__(self, env: dict[str, str], cwd: Path, stderr_path: Path) -> None:
        lever = shutil.which("lever")
        assert lever, "the `lever` command is not installed (run through `uv run`)"
        self._stderr = stderr_path.open("a")
        self.proc = subprocess.Popen(
            [lever, "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=cwd,
            text=True,
            bufsize=1,
        )
        self.stderr_path = stderr_path
        self.check = SchemaCheck()
        self.notes: list[Message] = []
        #: Responses by request id, and the ids in the order their responses arrived.
        self.responses: dict[int, Message] = {}
        self.answered: list[int] = []
        self._methods: dict[int, str] = {}
        self._pos = 0
        self._next_id = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _receive(self, deadline: float) -> Message:
        try:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"no message in time; server stderr:\n{self._log()}") from None
        if line is None:
            raise AssertionError(f"the server closed stdout; stderr:\n{self._log()}")
        message: Message = json.loads(line)  # every line is one JSON message
        if "id" not in message:
            self.check.notification(message)
            self.notes.append(message)
        elif message["id"] in self._methods:
            request_id = message["id"]
            assert request_id not in self.responses, f"two responses to request {request_id}"
            self.check.response(self._methods[request_id], message)
            self.responses[request_id] = message
            self.answered.append(request_id)
        return message

    def _log(self) -> str:
        return self.stderr_path.read_text()

    def send(self, *messages: Message) -> None:
        """Write the messages, one per line, in a single write (so they arrive together)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(json.dumps(message) + "\n" for message in messages))
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], *, valid: bool = True) -> int:
        """Send a request without waiting for its response; its id.

        `valid=False` sends a request the schema must reject (to test the server's errors)."""
        self._next_id += 1
        request_id = self._next_id
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        if valid:
            self.check.request(request)
        else:
            self.check.rejects(request)
        # An invalid request is answered by an error, checked as any method's would be.
        self._methods[request_id] = method if valid else "initialize"
        self.send(request)
        return request_id

    def requests(self, *calls: tuple[str, dict[str, Any]]) -> list[int]:
        """Send several (valid) requests in one write, without waiting; their ids."""
        messages = []
        for method, params in calls:
            self._next_id += 1
            message = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
            self.check.request(message)
            self._methods[self._next_id] = method
            messages.append(message)
        self.send(*messages)
        return [message["id"] for message in messages]

    def response(self, request_id: int, timeout: float = 15) -> Message:
        """The response to `request_id`, waiting for it (collecting everything else)."""
        deadline = time.monotonic() + timeout
        while request_id not in self.responses:
            self._receive(deadline)
        return self.responses[request_id]

    def call(
        self, method: str, params: dict[str, Any], timeout: float = 15, *, valid: bool = True
    ) -> Message:
        """Send a request; return its response (result or error), collecting notifications."""
        return self.response(self.request(method, params, valid=valid), timeout)

    def result(self, method: str, params: dict[str, Any]) -> Any:
        response = self.call(method, params)
        assert "result" in response, response
        return response["result"]

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 15) -> Message:
        """The next notification (after the last one waited for) that matches."""
        deadline = time.monotonic() + timeout
        while True:
            while self._pos < len(self.notes):
                note = self.notes[self._pos]
                self._pos += 1
                if match(note):
                    return note
            self._receive(deadline)

    def wait_event(self, kind: str, **fields: Any) -> dict[str, Any]:
        def match(note: Message) -> bool:
            if note["method"] != "event":
                return False
            event = note["params"]["event"]
            return bool(event["type"] == kind and all(event.get(k) == v for k, v in fields.items()))

        event: dict[str, Any] = self.wait_for(match)["params"]["event"]
        return event

    def events_of(self, session_id: str) -> list[dict[str, Any]]:
        return [
            note["params"]["event"]
            for note in self.notes
            if note["method"] == "event" and note["params"]["session_id"] == session_id
        ]

    def close(self, timeout: float = 15) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                self._receive(deadline)  # events of the shutdown are messages too
            except AssertionError:
                break
        code = self.proc.wait(timeout=max(deadline - time.monotonic(), 1))
        self._stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def connect(clients: list[RpcClient], env: dict[str, str], repo: Path, log: Path) -> RpcClient:
    """A started `lever app-server` (added to `clients`, for clean-up), initialized."""
    client = RpcClient(env, repo, log)
    clients.append(client)
    init = client.result("initialize", {"client_name": "test", "protocol_version": "1"})
    assert init["server_name"] == "lever" and init["protocol_version"] == "1"
    assert "approval/respond" in init["capabilities"]["methods"]
    return client
