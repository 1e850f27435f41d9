"""Approvals end to end: the fake model calls commands, a real shell runs them (issue 14).

`-a untrusted` with `danger-full-access`, where a wrongly auto-approved command runs on the
host: a GNU abbreviation of a writing option is asked about, a known-safe `git status` in a
repository with a hostile `core.fsmonitor` runs neutralised without asking, and "approve for
this session" does not extend to the same command with an environment prefix.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.models.factory import make_client
from lever.protocol import ToolOutput
from lever.sandbox.approval import Approvals, Decision
from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.store.rollout import RolloutWriter
from lever.testing.approvals import Front
from lever.testing.fake_model import FakeModelServer
from lever.tools.registry import default_tools

WIRE = "openai-responses"


def shell(command: str, call_id: str) -> dict[str, Any]:
    return {"name": "shell", "arguments": {"command": command}, "call_id": call_id}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def _env(workspace: Path) -> dict[str, str]:
    home = workspace.parent / "home"
    return {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
async def run_untrusted(workspace: Path) -> AsyncIterator[Callable[..., Any]]:
    """Run one turn of scripted shell calls under untrusted + danger-full-access."""
    sessions: list[Session] = []

    async def run(front: Front, *calls: dict[str, Any]) -> list[ToolOutput]:
        turns = [{"tool_calls": [call]} for call in calls] + [{"text": "done"}]
        with FakeModelServer(turns) as server:
            session = Session(
                make_client(WIRE, server.base_url, None),
                model="fake-model",
                provider=WIRE,
                cwd=workspace,
                tools=default_tools(),
                rollout=RolloutWriter(workspace.parent / "rollout.jsonl"),
                retry_base_delay=0.01,
                limits=Limits(max_turns=10),
                sandbox=NoSandbox(SandboxPolicy(mode="danger-full-access")),
                env=_env(workspace),
                approvals=Approvals("untrusted", front),
            )
            sessions.append(session)
            session.start()
            finished = await session.run_turn("go")
        assert finished.reason == "done"
        return [item for item in session.history if isinstance(item, ToolOutput)]

    yield run
    for session in sessions:
        await session.close()


@pytest.mark.parametrize("answer", ["deny", "approve_once"])
async def test_an_abbreviated_output_option_is_asked_about(
    answer: Decision, workspace: Path, run_untrusted: Any
) -> None:
    (workspace / "in.txt").write_text("b\na\n")
    front = Front(answer)
    (output,) = await run_untrusted(front, shell("sort --outp=out.txt in.txt", "c1"))
    (request,) = front.asked
    assert "`--output`" in request.reason and request.command[-1] == "sort --outp=out.txt in.txt"
    # Denied, nothing was written; approved, the command really writes (what was at stake).
    assert (workspace / "out.txt").exists() == (answer == "approve_once")
    assert output.is_error == (answer == "deny")


def _git(workspace: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=workspace, env=_env(workspace), check=True, capture_output=True
    )
    return done.stdout.decode()


async def test_known_safe_git_status_runs_neutralised(workspace: Path, run_untrusted: Any) -> None:
    _git(workspace, "init", "-q")
    (workspace / "f.txt").write_text("x\n")
    marker = workspace.parent / "fsmonitor-ran"
    _git(workspace, "config", "core.fsmonitor", f"touch {marker}; false")
    front = Front()
    (output,) = await run_untrusted(front, shell("git status --short", "c1"))
    assert front.asked == []  # known safe: not asked
    assert "?? f.txt" in output.output and not output.is_error
    assert not marker.exists()  # ...because it ran with core.fsmonitor turned off
    subprocess.run(["git", "status"], cwd=workspace, env=_env(workspace), capture_output=True)
    assert marker.exists()  # as written, the repository's fsmonitor would have run


async def test_session_approval_does_not_cover_an_env_prefix(
    workspace: Path, run_untrusted: Any
) -> None:
    _git(workspace, "init", "-q")
    _git(workspace, "config", "user.email", "a@example.com")
    _git(workspace, "config", "user.name", "A")
    front = Front("approve_session", "deny", "deny", "deny")
    outputs = await run_untrusted(
        front,
        shell("git commit --allow-empty -m fix", "c1"),
        shell("XDG_CONFIG_HOME=./cfg git commit --allow-empty -m fix", "c2"),
        shell("GIT_EXEC_PATH=./bin git commit --allow-empty -m fix", "c3"),
        shell("git  commit --allow-empty -m 'fix'", "c4"),  # the same command: not asked
        shell("git commit --allow-empty -m fix > log.txt", "c5"),
    )
    assert [request.call_id for request in front.asked] == ["c1", "c2", "c3", "c5"]
    assert [output.is_error for output in outputs] == [False, True, True, False, True]
    assert len(_git(workspace, "log", "--oneline").splitlines()) == 2
