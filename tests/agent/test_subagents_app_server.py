"""The app-server with sub-agents: every child event reaches the client (as `child_event`
notifications of the parent's session), and a child's approval request is answered by the
client like the parent's own (the approval policy is inherited)."""

from __future__ import annotations

from pathlib import Path

from lever.testing.fake_model import FakeModelServer
from lever.testing.isolated_env import isolated_env
from tests.server.rpc_client import RpcClient, connect

from .subagent_support import Roles, spawn

ASK = 'python3 -c "print(6 * 7)"'  # not on the known-safe list: `untrusted` asks


def test_app_server_forwards_children_and_their_approvals(tmp_path: Path) -> None:
    repo = tmp_path / "work"
    repo.mkdir()
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child compute", call_id="spawn_1")]},
                {"text": "the child computed it"},
            ],
            "child": [
                {
                    "tool_calls": [
                        {"name": "shell", "arguments": {"command": ASK}, "call_id": "child_ask"}
                    ]
                },
                {"text": "it printed 42"},
            ],
        }
    )
    clients: list[RpcClient] = []
    try:
        with FakeModelServer(responder=roles) as model:
            client = connect(clients, isolated_env(tmp_path), repo, tmp_path / "server.log")
            new = {
                "cwd": str(repo),
                "base_url": model.base_url,
                "model": "fake-model",
                "approval": "untrusted",
            }
            sid = client.result("session/new", new)["session_id"]
            client.result("turn/send", {"session_id": sid, "text": "ROLE:parent delegate"})
            ask = client.wait_for(lambda note: note["method"] == "approval/request", timeout=60)
            assert ask["params"]["session_id"] == sid
            assert ask["params"]["request"]["call_id"] == "child_ask"
            answer = {"session_id": sid, "call_id": "child_ask", "decision": "approve_once"}
            assert client.result("approval/respond", answer) == {"accepted": True}
            done = client.wait_event("turn_finished")
            assert (done["reason"], done["last_message"]) == ("done", "the child computed it")
            events = client.events_of(sid)
            # The child's session is the parent's part, not listed beside it.
            (listed,) = client.result("session/list", {})["sessions"]
            assert (listed["session_id"], listed["children"]) == (sid, 1)
            assert client.close() == 0
    finally:
        for started in clients:
            started.kill()

    kinds = [event["type"] for event in events]
    assert kinds.count("child_started") == kinds.count("child_finished") == 1
    inner = [event["event"]["type"] for event in events if event["type"] == "child_event"]
    assert {"session_started", "approval_requested", "tool_finished", "turn_finished"} <= set(inner)
    # The child's approval is also in the parent's own stream, as the client answered it.
    decided = [e for e in events if e["type"] == "approval_decided"]
    assert [(e["call_id"], e["by"]) for e in decided] == [("child_ask", "person")]
    output = next(
        e["item"]["output"]
        for e in events
        if e["type"] == "item" and e["item"].get("call_id") == "spawn_1" and "output" in e["item"]
    )
    assert "it printed 42" in output
    assert "42" in str(roles.bodies["child"][1]["messages"][-1]["content"])
