"""Approval policies driving the turn loop against the fake model, with a real sandbox.

Sandbox denials are real: commands run under the mechanism this machine has (bubblewrap, or
Landlock + seccomp), where everything outside the workspace is read-only (workspace-write) or
everything is (read-only), so `touch ../<test>-outside-marker` fails inside ("Read-only file system"
under bubblewrap, "Permission denied" under Landlock) and succeeds outside. Marker files prove
what ran and what not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lever.agent.limits import Limits
from lever.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    ErrorEvent,
    ToolFinished,
    ToolOutput,
    ToolStarted,
)
from lever.sandbox.approval import Approvals, Decision
from lever.sandbox.base import NoSandbox, Sandbox, SandboxPolicy
from lever.testing.approvals import Front
from lever.testing.fake_model import FakeModelServer
from lever.tools.apply_patch import make_add_patch

from .conftest import assert_one_output_per_call

WIRE = "openai-responses"
POLICIES = ["untrusted", "on-failure", "on-request", "never"]


#: What a refused write says under bubblewrap (EROFS) or Landlock (EACCES).
REFUSED = ("Read-only file system", "Permission denied")


def real_sandbox(mode: str, root: Path) -> Sandbox:
    """The sandbox lever would use here (the probed mechanism), or a skip saying why none."""
    from lever.sandbox.factory import make_sandbox

    sandbox = make_sandbox(SandboxPolicy(mode=mode, writable_roots=(root,)))
    if not getattr(sandbox, "available", True):
        pytest.skip(f"needs a sandbox mechanism: {getattr(sandbox, 'reason', '')}")
    return sandbox


def person(*answers: Decision) -> Front:
    """The person: answers each request in turn, then approves once."""
    return Front(*answers, then="approve_once")


def shell(command: str, call_id: str = "c1", **extra: Any) -> dict[str, Any]:
    return {"name": "shell", "arguments": {"command": command, **extra}, "call_id": call_id}


def script(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"tool_calls": [call]} for call in calls] + [{"text": "done"}]


def trace(session: Any) -> list[str]:
    """The approval-relevant event sequence, e.g. ["started", "requested:shell", ...]."""
    names: list[str] = []
    for event in session.events:
        if isinstance(event, ToolStarted):
            names.append("started")
        elif isinstance(event, ApprovalRequested):
            names.append(f"requested:{event.kind}")
        elif isinstance(event, ApprovalDecided):
            names.append(f"decided:{event.decision}")
        elif isinstance(event, ToolFinished):
            names.append("finished")
    return names


def outputs(session: Any) -> list[ToolOutput]:
    return [item for item in session.history if isinstance(item, ToolOutput)]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def outside_marker(workspace: Path) -> Path:
    """A path beside the workspace (the session's folder), unique to the test."""
    return workspace.parent / f"{workspace.name}-outside-marker"


async def run(make_session: Any, turns: list[dict[str, Any]], **kwargs: Any) -> Any:
    with FakeModelServer(turns) as server:
        session = make_session(server, WIRE, limits=Limits(max_turns=10), **kwargs)
        session.finished = await session.run_turn("go")
        session.requests = len(server.requests)
    assert_one_output_per_call(session)
    return session


# -- the matrix: each policy x (safe, unsafe, sandbox denial, escalation) ----------------------

SAFE: dict[str, list[str]] = {p: [] for p in POLICIES}
UNSAFE = {"untrusted": ["requested:shell", "decided:approve_once"]} | {p: [] for p in POLICIES[1:]}
DENIAL = {
    "untrusted": (["requested:shell", "decided:approve_once"], False),
    "on-failure": (["requested:rerun_outside", "decided:approve_once"], True),
    "on-request": ([], False),
    "never": ([], False),
}
ESCALATION = {
    "untrusted": (["requested:escalation", "decided:approve_once"], True),
    "on-failure": (["requested:escalation", "decided:approve_once"], True),
    "on-request": (["requested:escalation", "decided:approve_once"], True),
    "never": ([], False),
}


def middle(session: Any) -> list[str]:
    events = trace(session)
    assert events[0] == "started" and events[-1] == "finished"
    return events[1:-1]


@pytest.mark.parametrize("policy", POLICIES)
async def test_safe_command_runs_without_asking(
    policy: str, make_session: Any, workspace: Path
) -> None:
    front = person()
    session = await run(
        make_session,
        script(shell("ls -a | head -5")),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals(policy, front),
    )
    assert middle(session) == SAFE[policy] and front.asked == []
    assert ".git" in outputs(session)[0].output and session.finished.reason == "done"


@pytest.mark.parametrize("policy", POLICIES)
async def test_unsafe_command(policy: str, make_session: Any, workspace: Path) -> None:
    session = await run(
        make_session,
        script(shell("touch made.txt")),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals(policy, person()),
    )
    assert middle(session) == UNSAFE[policy]
    assert (workspace / "made.txt").exists()  # approved (or not asked): ran in the sandbox


@pytest.mark.parametrize("policy", POLICIES)
async def test_sandbox_denial(policy: str, make_session: Any, workspace: Path) -> None:
    session = await run(
        make_session,
        script(shell(f"touch ../{outside_marker(workspace).name}")),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals(policy, person()),
    )
    expected, reran = DENIAL[policy]
    assert middle(session) == expected
    assert outside_marker(workspace).exists() == reran
    (output,) = outputs(session)
    if reran:
        assert "approved running it again outside the sandbox" in output.output
        assert output.output.startswith("exit code: 0")
    else:
        assert any(refused in output.output for refused in REFUSED)
        hint = "cannot run outside the sandbox" if policy == "never" else '"escalate": true'
        assert hint in output.output


@pytest.mark.parametrize("policy", POLICIES)
async def test_escalation_request(policy: str, make_session: Any, workspace: Path) -> None:
    call = shell("touch .git/marker", escalate=True, justification="needs to write .git")
    front = person()
    session = await run(
        make_session,
        script(call),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals(policy, front),
    )
    expected, ran = ESCALATION[policy]
    assert middle(session) == expected
    assert (workspace / ".git" / "marker").exists() == ran
    if ran:
        assert front.asked[0].justification == "needs to write .git"
    else:
        assert "escalation refused" in outputs(session)[0].output


# -- decisions ---------------------------------------------------------------------------------


async def test_a_denied_command_never_runs(make_session: Any, workspace: Path) -> None:
    turns = script(shell("touch denied-marker"))
    with FakeModelServer(turns) as server:
        session = make_session(
            server,
            WIRE,
            sandbox=real_sandbox("workspace-write", workspace),
            approvals=Approvals("untrusted", person("deny")),
        )
        finished = await session.run_turn("go")
        last_body = json.dumps(server.requests[-1].body)
    assert not (workspace / "denied-marker").exists()
    assert finished.reason == "done"  # a plain deny goes back to the model, the turn goes on
    (output,) = outputs(session)
    assert output.is_error and "the person denied this command" in output.output
    assert "the person denied this command" in last_body
    assert_one_output_per_call(session)


async def test_denied_rerun_keeps_the_sandboxed_failure(make_session: Any, workspace: Path) -> None:
    session = await run(
        make_session,
        script(shell("touch marker")),
        sandbox=real_sandbox("read-only", workspace),
        approvals=Approvals("on-failure", person("deny")),
    )
    assert middle(session) == ["requested:rerun_outside", "decided:deny"]
    assert not (workspace / "marker").exists()
    assert any(refused in outputs(session)[0].output for refused in REFUSED)


async def test_approve_session_sticks_for_the_same_parsed_command(
    make_session: Any, workspace: Path
) -> None:
    front = person("approve_session", "deny", "deny")
    await run(
        make_session,
        script(
            shell("touch   a.txt", "c1"),
            shell("touch 'a.txt'", "c2"),
            shell("FOO=1  touch a.txt", "c3"),  # an env prefix is another command (issue 14)
            shell("touch a.txt && touch b.txt", "c4"),
        ),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals("untrusted", front),
    )
    assert [r.call_id for r in front.asked] == ["c1", "c3", "c4"]
    assert (workspace / "a.txt").exists() and not (workspace / "b.txt").exists()


async def test_deny_and_stop_ends_the_turn(make_session: Any, workspace: Path) -> None:
    both = {"tool_calls": [shell("touch first", "c1"), shell("touch second", "c2")]}
    session = await run(
        make_session,
        [both, {"text": "never asked for"}],
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals("untrusted", person("deny_and_stop")),
    )
    assert session.finished.reason == "denied"
    assert session.requests == 1  # the model was not asked again
    assert not (workspace / "first").exists() and not (workspace / "second").exists()
    first, second = outputs(session)
    assert "stopped the turn" in first.output and "not run" in second.output


async def test_no_mechanism_means_every_command_needs_approval(
    make_session: Any, workspace: Path
) -> None:
    unconfined = NoSandbox(SandboxPolicy(mode="workspace-write", writable_roots=(workspace,)))
    session = await run(
        make_session,
        script(shell("ls", "c1"), shell("touch x", "c2")),
        sandbox=unconfined,
        approvals=Approvals("never"),
    )
    notices = [e for e in session.events if isinstance(e, ErrorEvent)]
    assert len(notices) == 1 and "no sandbox mechanism" in notices[0].message  # said once
    assert all("no sandbox mechanism" in o.output for o in outputs(session))
    assert not (workspace / "x").exists()
    front = person()
    session = await run(
        make_session,
        script(shell("ls", "c3")),
        sandbox=unconfined,
        approvals=Approvals("on-request", front),
    )
    assert middle(session) == ["requested:shell", "decided:approve_once"]


async def test_patch_under_untrusted_asks_on_its_paths(make_session: Any, workspace: Path) -> None:
    patch = {"name": "apply_patch", "arguments": {"input": make_add_patch("new.py", "x = 1\n")}}
    front = person("deny")
    session = await run(
        make_session,
        script(patch),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals("untrusted", front),
    )
    assert front.asked[0].kind == "patch" and front.asked[0].paths == ["new.py"]
    assert not (workspace / "new.py").exists()
    assert "no files were changed" in outputs(session)[0].output


async def test_patch_in_workspace_write_needs_no_approval(
    make_session: Any, workspace: Path
) -> None:
    patch = {"name": "apply_patch", "arguments": {"input": make_add_patch("new.py", "x = 1\n")}}
    session = await run(
        make_session,
        script(patch),
        sandbox=real_sandbox("workspace-write", workspace),
        approvals=Approvals("never"),
    )
    assert middle(session) == [] and (workspace / "new.py").read_text() == "x = 1\n"


async def test_every_wire_sees_one_output_per_call(
    wire: str, make_session: Any, workspace: Path
) -> None:
    turns: list[dict[str, Any]] = [
        {"tool_calls": [shell("touch a", "c1"), shell("ls", "c2")]},
        {"tool_calls": [shell("touch .git/m", "c3", escalate=True, justification="j")]},
        {"text": "done"},
    ]
    with FakeModelServer(turns) as server:
        session = make_session(
            server,
            wire,
            sandbox=real_sandbox("workspace-write", workspace),
            approvals=Approvals("untrusted", person("deny", "approve_once")),
        )
        finished = await session.run_turn("go")
    assert finished.reason == "done"
    assert_one_output_per_call(session)
    assert not (workspace / "a").exists() and (workspace / ".git" / "m").exists()
