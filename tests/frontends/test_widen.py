"""Widening a resumed session (a wider sandbox, an approval policy that asks less, higher limits)
needs an explicit `--widen` (`widen: true`) and is recorded; narrowing is always allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.frontend import Request, WidenError, restored
from lever.protocol import SessionStarted
from lever.testing.fake_model import FakeModelServer

from ..mcp.test_mcp_server import error_text, lever_mcp
from ..server.rpc_client import RpcClient
from .test_restore import lever, lever_env, rollout_events, write_config

LIMITS = {"max_turns": 5, "max_tokens": None, "max_seconds": 60.0}


def started(sandbox: str = "read-only", approval: str = "untrusted") -> SessionStarted:
    return SessionStarted(
        session_id="s1",
        cwd="/",
        model="m",
        provider="p",
        sandbox=sandbox,
        approval=approval,
        limits=LIMITS,
    )


def test_narrowing_is_allowed_and_nothing_is_widened() -> None:
    request = Request(cwd=Path("/"), sandbox="read-only", approval="untrusted", max_turns=3)
    mode, approval, limits, widened = restored(started("workspace-write", "never"), request, {})
    assert (mode, approval, limits.max_turns, limits.max_seconds) == (
        "read-only",
        "untrusted",
        3,
        60.0,
    )
    assert limits.max_tokens is None and widened == []


@pytest.mark.parametrize(
    ("asked", "change"),
    [
        ({"sandbox": "danger-full-access"}, "sandbox: read-only -> danger-full-access"),
        ({"approval": "never"}, "approval policy: untrusted -> never"),
        ({"max_turns": 50}, "max_turns: 5 -> 50"),
        ({"max_seconds": 600.0}, "max_seconds: 60.0 -> 600.0"),
    ],
)
def test_widening_needs_widen_and_is_listed(asked: dict[str, object], change: str) -> None:
    with pytest.raises(WidenError, match="--widen"):
        restored(started(), Request(cwd=Path("/"), **asked), {})
    *_, widened = restored(started(), Request(cwd=Path("/"), widen=True, **asked), {})
    assert widened == [change]


def test_exec_resume_refuses_to_widen_then_records_it(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    with FakeModelServer([{"text": "Recorded."}, {"text": "Wider now."}]) as model:
        write_config(home, model, wider=False)
        ran = lever(home, work, "exec", "--json", "--sandbox", "read-only", "hi")
        assert ran.returncode == 0, ran.stderr
        sid = rollout_sid(home)
        before = rollout_events(home, sid)
        refused = lever(home, work, "resume", "--exec", sid, "--sandbox", "workspace-write", "go")
        assert refused.returncode == 2
        assert "read-only -> workspace-write" in refused.stderr and "--widen" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert rollout_events(home, sid) == before  # nothing was opened
        args = ("resume", "--exec", sid, "--sandbox", "workspace-write", "--widen", "go")
        widened = lever(home, work, *args)
        assert widened.returncode == 0, widened.stderr
    last = [e for e in rollout_events(home, sid) if e["type"] == "session_started"][-1]
    assert last["sandbox"] == "workspace-write"
    assert last["widened"] == ["sandbox: read-only -> workspace-write"]


def rollout_sid(home: Path) -> str:
    (path,) = home.glob("sessions/*/*/*/rollout-*.jsonl")
    return path.stem.removeprefix("rollout-")


async def test_app_server_and_mcp_server_refuse_to_widen(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    with FakeModelServer([{"text": "Recorded."}]) as model:
        write_config(home, model, wider=False)
        ran = lever(home, work, "exec", "--sandbox", "read-only", "-a", "untrusted", "hi")
        assert ran.returncode == 0, ran.stderr
        sid = rollout_sid(home)
        client = RpcClient(lever_env(home), work, home / "app-server.log")
        try:
            client.result("initialize", {"client_name": "test", "protocol_version": "1"})
            for method in ("session/resume", "session/fork"):
                wider = client.call(method, {"session_id": sid, "sandbox": "danger-full-access"})
                assert "--widen" in wider["error"]["message"], wider
            assert client.close() == 0
        finally:
            client.kill()
        async with lever_mcp(home) as mcp:
            for tool in ("lever_reply", "lever_fork"):
                args = {"session_id": sid, "prompt": "go", "approval_policy": "never"}
                refused = await mcp.call_tool(tool, args)
                assert "untrusted -> never" in error_text(refused)
    assert len(list(home.glob("sessions/*/*/*/rollout-*.jsonl"))) == 1  # no fork was made
