"""`session/close`, and requests answered concurrently, over a real `lever app-server`'s pipes.

Every message sent and received is checked against docs/schema/app-server.v1.schema.json.
"""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path
from typing import Any

from lever.testing.fake_model import FakeModelServer
from lever.testing.procs import alive

from .rpc_client import RpcClient, connect

#: A command whose pid (written to FILE) is the process itself: `exec` replaces the shell.


def sleeper(file: Path) -> str:
    """A command that says it started (in `file`) and sleeps; its sleep's length is unique to
    `file`, so the test finds it on the host by its command line (under bubblewrap `$$` is a
    pid of the sandbox's own pid namespace, not the host's)."""
    return f"echo started > {file}; exec sleep {_seconds(file)}"


def _seconds(file: Path) -> str:
    return f"60.{zlib.crc32(str(file).encode()) % 100000:05d}"


#: An MCP "server" that never answers `initialize`: session/new waits its startup timeout.
SLOW_MCP_START_S = 6
SLOW_MCP = [
    'mcp_servers.slow.command="sleep"',
    'mcp_servers.slow.args=["30"]',
    f"mcp_servers.slow.startup_timeout_s={SLOW_MCP_START_S}",
]


def shell(call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": "shell", "arguments": arguments, "call_id": call_id}]}


def pid_in(path: Path, timeout: float = 10) -> int:
    """The host pid of the `sleeper(path)` command, once it has started."""
    wanted = f"sleep {_seconds(path)}".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for proc in Path("/proc").iterdir():
                try:
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                except OSError:
                    continue
                # Exactly the sleep: bubblewrap's and the launcher's command lines end with it too.
                if proc.name.isdigit() and cmdline == wanted:
                    return int(proc.name)
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written, or its sleep never seen")


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_events_in_order(client: RpcClient, session_id: str) -> None:
    """Each session's notifications come in event order (deltas share the last event's seq)."""
    seqs = [event["seq"] for event in client.events_of(session_id)]
    assert seqs and seqs == sorted(seqs), seqs


def new_session(client: RpcClient, repo: Path, base_url: str, **extra: Any) -> str:
    params = {
        "cwd": str(repo),
        "base_url": base_url,
        "model": "fake-model",
        "sandbox": "danger-full-access",  # real pids: no sandbox's pid namespace
        "approval": "never",
        **extra,
    }
    session_id: str = client.result("session/new", params)["session_id"]
    return session_id


def test_close_ends_the_turn_kills_its_processes_and_forgets_the_session(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    background, foreground = repo / "background.pid", repo / "foreground.pid"
    script = [
        # Still running after yield_ms: it goes on in the background as p1.
        shell("call_bg", command=sleeper(background), yield_ms=300),
        {"text": "The sleeper runs in the background."},
        shell("call_fg", command=sleeper(foreground)),
    ]
    with FakeModelServer(script) as model:
        client = connect(clients, env, repo, tmp_path / "server.log")
        sid = new_session(client, repo, model.base_url)

        client.result("turn/send", {"session_id": sid, "text": "start a sleeper"})
        assert client.wait_event("tool_finished", call_id="call_bg")["process_id"] == "p1"
        assert client.wait_event("turn_finished")["reason"] == "done"
        background_pid = pid_in(background)
        assert alive(background_pid)  # the turn ended, its background process did not

        client.result("turn/send", {"session_id": sid, "text": "and one more"})
        client.wait_event("tool_started", call_id="call_fg")
        foreground_pid = pid_in(foreground)
        assert alive(foreground_pid)

        began = time.monotonic()
        closed = client.result("session/close", {"session_id": sid})
        assert closed == {"closed": True, "interrupted": True}
        assert time.monotonic() - began < 8
        # Both events came before the response: the close is complete when it is answered.
        assert client.wait_event("turn_finished")["reason"] == "interrupted"
        assert client.wait_event("session_ended")["reason"] == "closed"
        assert gone(foreground_pid), "the running command survived session/close"
        assert gone(background_pid), "the background process survived session/close"
        assert_events_in_order(client, sid)

        # The session is no longer loaded: every request on it says so.
        for method, params in [
            ("turn/send", {"session_id": sid, "text": "hello?"}),
            ("turn/interrupt", {"session_id": sid}),
            ("approval/respond", {"session_id": sid, "call_id": "x", "decision": "deny"}),
            ("session/close", {"session_id": sid}),
        ]:
            error = client.call(method, params)["error"]
            assert error["code"] == -32001 and "session/resume" in error["message"], method
        unknown = client.call("session/close", {"session_id": "no-such-session"})["error"]
        assert unknown["code"] == -32001 and "'no-such-session' is not loaded" in unknown["message"]
        listed = client.result("session/list", {"cwd": str(repo)})["sessions"]
        assert [(s["session_id"], s["loaded"]) for s in listed] == [(sid, False)]

        # Its rollout was closed whole, and it can be loaded again.
        assert client.result("session/resume", {"session_id": sid})["session_id"] == sid
        assert client.result("session/close", {"session_id": sid}) == {
            "closed": True,
            "interrupted": False,
        }
        assert client.close() == 0
    assert client.check.checked > 20


def test_requests_are_answered_while_a_slow_one_is_pending(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    started = repo / "sleeper.pid"
    script = [shell("call_sleep", command=sleeper(started))]
    with FakeModelServer(script) as model:
        client = connect(clients, env, repo, tmp_path / "server.log")
        sid = new_session(client, repo, model.base_url, approval="untrusted")
        client.result("turn/send", {"session_id": sid, "text": "sleep"})
        ask = client.wait_for(lambda note: note["method"] == "approval/request")
        assert ask["params"]["request"]["call_id"] == "call_sleep"

        # A session/new that takes SLOW_MCP_START_S (its MCP server never answers)...
        slow_params = {
            "cwd": str(repo),
            "base_url": model.base_url,
            "model": "fake-model",
            "config": SLOW_MCP,
        }
        began = time.monotonic()
        slow = client.request("session/new", slow_params)
        # ...does not hold up the answer to the approval, nor the interrupt of the turn.
        answer = {"session_id": sid, "call_id": "call_sleep", "decision": "approve_once"}
        approved = client.request("approval/respond", answer)
        assert client.response(approved) == {
            "jsonrpc": "2.0",
            "id": approved,
            "result": {"accepted": True},
        }
        client.wait_event("approval_decided", call_id="call_sleep")
        sleeper_pid = pid_in(started)
        interrupt = client.request("turn/interrupt", {"session_id": sid})
        assert client.response(interrupt)["result"] == {"interrupted": True}
        assert client.wait_event("turn_finished")["reason"] == "interrupted"
        assert gone(sleeper_pid)
        assert slow not in client.responses, "the slow request was answered first"
        # Responses came out of order, each with its own id.
        assert client.answered.index(approved) < client.answered.index(interrupt)

        created = client.response(slow, timeout=SLOW_MCP_START_S + 15)["result"]
        assert client.answered[-1] == slow and time.monotonic() - began >= SLOW_MCP_START_S - 1
        assert created["session_id"] != sid
        errors = [e for e in client.events_of(created["session_id"]) if e["type"] == "error"]
        assert [e["kind"] for e in errors] == ["mcp"]
        assert f"did not start within {SLOW_MCP_START_S} s" in errors[0]["message"]
        assert_events_in_order(client, sid)
        assert_events_in_order(client, created["session_id"])
        assert client.close() == 0


def test_stdin_end_answers_the_requests_in_progress(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    with FakeModelServer([]) as model:
        client = connect(clients, env, repo, tmp_path / "server.log")
        params = {"cwd": str(repo), "base_url": model.base_url, "model": "fake-model"}
        slow = client.request("session/new", {**params, "config": SLOW_MCP})
        listed = client.request("session/list", {"cwd": str(repo)})
        assert client.proc.stdin is not None
        client.proc.stdin.close()  # the client is done sending, but still reads
        created = client.response(slow, timeout=SLOW_MCP_START_S + 15)
        sid = created["result"]["session_id"]
        assert client.responses[listed]["result"] == {"sessions": []}
        # The session created during the shutdown is closed too, its rollout kept.
        assert client.wait_event("session_ended")["reason"] == "shutdown"
        assert client.proc.wait(timeout=15) == 0
        assert_events_in_order(client, sid)
        rollouts = list(Path(env["LEVER_HOME"]).glob(f"sessions/*/*/*/rollout-{sid}.jsonl"))
        assert len(rollouts) == 1
        last = json.loads(rollouts[0].read_text().splitlines()[-1])
        assert (last["type"], last["reason"]) == ("session_ended", "shutdown")


def test_interrupt_right_behind_the_turn_stops_it_before_it_starts(
    clients: list[RpcClient], env: dict[str, str], repo: Path, tmp_path: Path
) -> None:
    marker = repo / "ran.txt"
    script = [shell("call_touch", command=f"touch {marker}"), {"text": "done"}]
    with FakeModelServer(script) as model:
        client = connect(clients, env, repo, tmp_path / "server.log")
        sid = new_session(client, repo, model.base_url)
        # Both lines arrive together: the interrupt is handled before the turn's task has run.
        send, interrupt = client.requests(
            ("turn/send", {"session_id": sid, "text": "touch the file"}),
            ("turn/interrupt", {"session_id": sid}),
        )
        assert client.response(send)["result"] == {"accepted": True}
        assert client.response(interrupt)["result"] == {"interrupted": True}
        assert client.wait_event("turn_finished")["reason"] == "interrupted"
        time.sleep(0.5)  # a turn that went on regardless would reach the model by now
        assert model.bodies() == [] and not marker.exists()
        # The session is usable: the next turn runs.
        client.result("turn/send", {"session_id": sid, "text": "touch the file"})
        assert client.wait_event("turn_finished")["reason"] == "done"
        assert marker.exists()
        assert_events_in_order(client, sid)
        assert client.close() == 0
