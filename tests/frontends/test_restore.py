"""Must-show #3 of issue 13: every front end (exec, the TUI, the app-server, the MCP server)
resumes and forks a recorded read-only `untrusted` session with its recorded sandbox and
approval policy — also when the user's configuration says `workspace-write` and `never`.

Each case records a session with `lever exec --sandbox read-only -a untrusted`, then continues
it (resume) or branches from it (fork) through one front end, where the scripted model tries to
write a file. The policy in force must be the recorded one: the new `session_started` says so,
the write asks for approval (untrusted), and once approved it still fails (read-only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp.client.session import ClientRequestContext

from lever.sandbox.factory import make_sandbox
from lever.testing.fake_model import FakeModelServer
from lever.testing.isolated_env import run_lever

from ..mcp.test_mcp_server import lever_mcp, result_of
from ..server.rpc_client import RpcClient
from ..tui.conftest import screen_text, wait_for

FRONT_ENDS = ("exec", "tui", "app-server", "mcp-server")
WRITE = {"call_id": "call_write", "name": "shell", "arguments": {"command": "touch written.txt"}}
SCRIPT = [
    {"text": "Recorded."},  # the recorded session's only turn
    {"tool_calls": [WRITE]},  # the continued one tries to write
    {"text": "Tried to write."},
]


def _confining() -> bool:
    from lever.sandbox.base import SandboxPolicy

    sandbox = make_sandbox(SandboxPolicy(mode="read-only", writable_roots=(Path.cwd(),)))
    return bool(getattr(sandbox, "available", False))


pytestmark = pytest.mark.skipif(not _confining(), reason="no sandbox mechanism works here")


def write_config(home: Path, model: FakeModelServer, *, wider: bool) -> None:
    # The configuration a user may have: wider than the recorded session, which must not matter.
    top = 'approval = "never"\n' if wider else ""
    table = '\n[sandbox]\nmode = "workspace-write"\n' if wider else ""
    (home / "config.toml").write_text(
        f'provider = "fake"\n{top}\n[providers.fake]\nwire = "openai-chat"\n'
        f'base_url = "{model.base_url}"\nneeds_key = false\nmodel = "fake-model"\n{table}',
        encoding="utf-8",
    )


def lever_env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    clean = {k: v for k, v in clean.items() if not k.startswith("LEVER_")}
    return {**clean, "LEVER_HOME": str(home)}


def lever(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_lever(*args, env=lever_env(home), cwd=cwd, stdin="")


def record(home: Path, work: Path) -> str:
    """A finished read-only, untrusted session; its id."""
    ran = lever(home, work, "exec", "--json", "--sandbox", "read-only", "-a", "untrusted", "hi")
    assert ran.returncode == 0, ran.stderr
    started = json.loads(ran.stdout.splitlines()[0])
    assert (started["sandbox"], started["approval"]) == ("read-only", "untrusted")
    return str(started["session_id"])


def rollout_events(home: Path, session_id: str) -> list[dict[str, Any]]:
    (path,) = home.glob(f"sessions/*/*/*/rollout-{session_id}*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def newest_session(home: Path, other_than: str) -> str:
    paths = [p for p in home.glob("sessions/*/*/*/rollout-*.jsonl") if other_than not in p.name]
    (path,) = paths
    return path.stem.removeprefix("rollout-")


# -- the four front ends: continue (or fork) `session_id` with PROMPT; the new session's id ----


def via_exec(home: Path, work: Path, session_id: str, fork: bool) -> str:
    args = ("fork", session_id) if fork else ("resume", "--exec", session_id)
    ran = lever(home, work, *args, "try to write")
    assert ran.returncode == 0, ran.stderr
    return newest_session(home, session_id) if fork else session_id


async def via_tui(home: Path, work: Path, session_id: str, fork: bool) -> str:
    from lever.store.rollout import find_rollout
    from lever.tui.app import LeverApp
    from lever.tui.launch import Launch

    path = find_rollout(home, session_id)
    launch = Launch(
        cwd=work, args=argparse.Namespace(), prompt="try to write", resume=path, fork=fork
    )
    app = LeverApp(launch)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.transcript.waiting_prompts, what="approval prompt")
        await pilot.press("y")  # approve once: it runs, in the sandbox
        await wait_for(pilot, lambda: "Tried to write." in screen_text(app), what="the answer")
        assert app.session is not None
        new_id = app.session.id
    return new_id


def via_app_server(home: Path, work: Path, session_id: str, fork: bool) -> str:
    client = RpcClient(lever_env(home), work, home / "app-server.log")
    try:
        init = client.result("initialize", {"client_name": "test", "protocol_version": "1"})
        assert init["server_name"] == "lever"
        method = "session/fork" if fork else "session/resume"
        sid = client.result(method, {"session_id": session_id})["session_id"]
        client.result("turn/send", {"session_id": sid, "text": "try to write"})
        ask = client.wait_for(lambda note: note["method"] == "approval/request")
        answer = {"session_id": sid, "call_id": ask["params"]["request"]["call_id"]}
        client.result("approval/respond", {**answer, "decision": "approve_once"})
        assert client.wait_event("turn_finished")["reason"] == "done"
        assert client.close() == 0
    finally:
        client.kill()
    return str(sid)


async def via_mcp_server(home: Path, work: Path, session_id: str, fork: bool) -> str:
    async def approve(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"decision": "approve_once"})

    async with lever_mcp(home, elicitation=approve) as client:
        tool = "lever_fork" if fork else "lever_reply"
        called = await client.call_tool(tool, {"session_id": session_id, "prompt": "try to write"})
        result = result_of(called)
    assert result["status"] == "done"
    return str(result["session_id"])


@pytest.mark.parametrize("wider_config", [False, True], ids=["plain-config", "wider-config"])
@pytest.mark.parametrize("fork", [False, True], ids=["resume", "fork"])
@pytest.mark.parametrize("front_end", FRONT_ENDS)
async def test_resume_and_fork_keep_the_recorded_sandbox_and_approval(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    front_end: str,
    fork: bool,
    wider_config: bool,
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    with FakeModelServer(SCRIPT) as model:
        write_config(home, model, wider=False)
        session_id = record(home, work)
        write_config(home, model, wider=wider_config)
        if front_end == "exec":
            new_id = via_exec(home, work, session_id, fork)
        elif front_end == "tui":
            new_id = await via_tui(home, work, session_id, fork)
        elif front_end == "app-server":
            new_id = via_app_server(home, work, session_id, fork)
        else:
            new_id = await via_mcp_server(home, work, session_id, fork)
        assert model.turns_left == 0, "the continued session never asked the model"
    assert (new_id != session_id) == fork
    events = rollout_events(home, new_id)
    starts = [e for e in events if e["type"] == "session_started"]
    assert (starts[-1]["sandbox"], starts[-1]["approval"]) == ("read-only", "untrusted")
    assert starts[-1]["session_id"] == new_id and starts[-1]["widened"] == []
    # untrusted: the write was not run without asking (exec has nobody to ask: denied) ...
    asked = [e for e in events if e["type"] == "approval_requested"]
    assert [e["call_id"] for e in asked] == ["call_write"]
    # ... and read-only: approved, it ran in the sandbox and could not write.
    assert not (work / "written.txt").exists()
    (done,) = [e for e in events if e["type"] == "tool_finished" and e["call_id"] == "call_write"]
    assert done.get("exit_code") != 0


def test_resume_keeps_the_recorded_reasoning_effort_unless_set_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    turns = [{"text": "Recorded."}, {"text": "Resumed."}, {"text": "Resumed, lower."}]
    with FakeModelServer(turns) as model:
        write_config(home, model, wider=False)
        ran = lever(home, work, "exec", "--json", "--reasoning-effort", "high", "hi")
        assert ran.returncode == 0, ran.stderr
        session_id = json.loads(ran.stdout.splitlines()[0])["session_id"]
        assert lever(home, work, "resume", "--exec", session_id, "again").returncode == 0
        lower = lever(home, work, "resume", "--exec", "--reasoning-effort", "low", session_id, "x")
        assert lower.returncode == 0, lower.stderr
    starts = [e for e in rollout_events(home, session_id) if e["type"] == "session_started"]
    assert [s["config"].get("reasoning_effort") for s in starts] == ["high", "high", "low"]
