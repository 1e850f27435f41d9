"""`lever app-server` driven over its pipes by a JSON-RPC client, against the fake model.

Every message sent and received is checked against docs/schema/app-server.v1.schema.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lever.server.schema import schema_text
from lever.testing.fake_model import FakeModelServer

from .rpc_client import SCHEMA_FILE, RpcClient, connect


def shell(command: str, call_id: str, text: str = "") -> dict[str, Any]:
    turn: dict[str, Any] = {
        "tool_calls": [{"name": "shell", "arguments": {"command": command}, "call_id": call_id}]
    }
    if text:
        turn["text"] = text
    return turn


SCRIPT = [
    shell("touch created.txt", "call_touch", "I will create the file."),
    {"text": "Created created.txt."},
    shell("sleep 30", "call_sleep"),
    {"text": "Picked up where we left off."},
]


def test_checked_in_schema_is_generated() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "regenerate: uv run python -m lever.server.schema > docs/schema/app-server.v1.schema.json"
    )


def test_conversation_approval_interrupt_and_resume(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with FakeModelServer(SCRIPT) as model:
        client = connect(clients, env, repo, log)
        new = {
            "cwd": str(repo),
            "base_url": model.base_url,
            "model": "fake-model",
            "sandbox": "workspace-write",
            "approval": "untrusted",
        }
        sid = client.result("session/new", new)["session_id"]
        started = client.wait_event("session_started")
        assert (started["session_id"], started["approval"]) == (sid, "untrusted")

        # Turn 1: a non-safe command under `untrusted` waits for the client's answer.
        assert client.result("turn/send", {"session_id": sid, "text": "make a file"}) == {
            "accepted": True
        }
        ask = client.wait_for(lambda note: note["method"] == "approval/request")
        request = ask["params"]["request"]
        assert (ask["params"]["session_id"], request["call_id"]) == (sid, "call_touch")
        assert request["command"] == ["bash", "-c", "touch created.txt"]
        assert not (repo / "created.txt").exists()
        wrong = client.call(
            "approval/respond", {"session_id": sid, "call_id": "nope", "decision": "deny"}
        )
        assert wrong["error"]["code"] == -32004 and "call_touch" in wrong["error"]["message"]
        answer = {"session_id": sid, "call_id": "call_touch", "decision": "approve_once"}
        assert client.result("approval/respond", answer) == {"accepted": True}
        assert client.wait_event("approval_decided", call_id="call_touch")["by"] == "person"
        finished = client.wait_event("turn_finished")
        assert (finished["reason"], finished["last_message"]) == ("done", "Created created.txt.")
        assert (repo / "created.txt").exists()
        streamed = [n["params"]["event"]["type"] for n in client.notes if n["method"] == "event"]
        assert "text_delta" in streamed and "tool_output_chunk" not in streamed[:2]

        # Turn 2: a long command, interrupted.
        client.result("turn/send", {"session_id": sid, "text": "run the long job"})
        ask = client.wait_for(lambda note: note["method"] == "approval/request")
        assert ask["params"]["request"]["call_id"] == "call_sleep"
        answer = {"session_id": sid, "call_id": "call_sleep", "decision": "approve_session"}
        client.result("approval/respond", answer)
        busy = client.call("turn/send", {"session_id": sid, "text": "again"})
        assert busy["error"]["code"] == -32002
        time.sleep(0.3)  # let `sleep 30` start
        began = time.monotonic()
        assert client.result("turn/interrupt", {"session_id": sid}) == {"interrupted": True}
        stopped = client.wait_event("turn_finished")
        assert stopped["reason"] == "interrupted" and time.monotonic() - began < 5
        assert client.result("turn/interrupt", {"session_id": sid}) == {"interrupted": False}

        listed = client.result("session/list", {"cwd": str(repo)})["sessions"]
        assert [(s["session_id"], s["loaded"]) for s in listed] == [(sid, True)]
        assert client.result("models/list", {"base_url": model.base_url}) == {
            "provider": "openai-chat",
            "models": ["fake-model"],
        }
        config = client.result("config/read", {"cwd": str(repo)})
        assert config["home"] == env["LEVER_HOME"]
        assert client.close() == 0

        # A new app-server resumes the session from its rollout and goes on.
        client = connect(clients, env, repo, log)
        missing = client.call("turn/send", {"session_id": sid, "text": "hello"})
        assert missing["error"]["code"] == -32001
        assert "session/resume" in missing["error"]["message"]
        resumed = client.result("session/resume", {"session_id": sid})
        assert resumed == {"session_id": sid, "open_turn": False}
        client.result("turn/send", {"session_id": sid, "text": "continue"})
        done = client.wait_event("turn_finished")
        assert (done["reason"], done["last_message"]) == ("done", "Picked up where we left off.")
        last_request = model.bodies()[-1]["messages"]
        outputs = {m["tool_call_id"]: m["content"] for m in last_request if m["role"] == "tool"}
        assert "interrupted" in outputs["call_sleep"]

        fork = client.result("session/fork", {"session_id": sid, "at": 5})["session_id"]
        assert fork != sid
        seed = client.wait_event("compaction")
        assert seed["summary"] == f"forked from {sid} at event 5"
        assert client.close() == 0
    assert client.check.checked > 20


def test_errors_are_json_rpc_errors(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    client = connect(clients, env, repo, tmp_path / "server.log")
    client.send({"jsonrpc": "2.0", "method": "initialized"})  # a notification: no answer
    assert client.call("nope/nothing", {}, valid=False)["error"]["code"] == -32601
    bad = client.call("turn/send", {"session_id": "x"}, valid=False)
    assert bad["error"] == {
        "code": -32602,
        "message": "invalid params for turn/send: text: Field required",
    }
    no_model = client.call("session/new", {"cwd": str(repo)})
    assert no_model["error"]["code"] == -32003
    assert no_model["error"]["message"].startswith("No model is configured.")
    gone = client.call("session/resume", {"session_id": "20990101T000000-abcdef"})
    assert gone["error"]["code"] == -32001
    assert client.call("session/new", {"cwd": str(repo / "missing")})["error"]["code"] == -32003
    # Not JSON at all: an error with a null id.
    assert client.proc.stdin is not None
    client.proc.stdin.write("this is not json\n")
    client.proc.stdin.flush()
    parse = client._receive(time.monotonic() + 10)
    assert parse["id"] is None and parse["error"]["code"] == -32700
    client.check.response("initialize", parse)
    assert client.close() == 0


def test_every_method_and_notification_is_in_the_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert set(schema["x-methods"]) == {
        "initialize",
        "session/new",
        "session/resume",
        "session/fork",
        "session/list",
        "session/close",
        "turn/send",
        "turn/interrupt",
        "approval/respond",
        "config/read",
        "models/list",
    }
    assert set(schema["x-notifications"]) == {"event", "approval/request"}
    event = schema["$defs"]["EventParams"]["properties"]["event"]
    kinds = set(event["discriminator"]["mapping"])
    assert {"session_started", "text_delta", "turn_finished", "approval_requested"} <= kinds


def test_config_read_hides_secrets_but_not_variable_names(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    client = connect(clients, env, repo, tmp_path / "server.log")
    overrides = [
        'mcp_servers.web.url="http://127.0.0.1:9/mcp"',
        'mcp_servers.web.headers={X-Team="core-team"}',
        'mcp_servers.web.bearer_token_env_var="WEB_TOKEN"',
        'shell_environment.set.MY_API_KEY="sk-live-123"',
        'providers.box.key_env="MY_KEY"',
    ]
    config = client.result("config/read", {"cwd": str(repo), "config": overrides})["config"]
    assert config["mcp_servers"]["web"] == {
        "url": "http://127.0.0.1:9/mcp",
        "headers": {"X-Team": "***"},
        "bearer_token_env_var": "WEB_TOKEN",
    }
    assert config["shell_environment"]["set"]["MY_API_KEY"] == "***"
    assert config["providers"]["box"]["key_env"] == "MY_KEY"
    assert client.close() == 0
