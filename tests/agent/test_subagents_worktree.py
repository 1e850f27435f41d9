"""Sub-agents in worktree mode, interrupts and resuming: the child changes its own git worktree
(made from the parent's current state), its diff comes back, the parent's tree is untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lever import frontend
from lever.protocol import ChildFinished, ChildStarted, ToolStarted, TurnFinished
from lever.testing.fake_model import FakeModelServer

from .subagent_support import (
    Roles,
    git,
    make_repo,
    outputs_by_call,
    read_events,
    request_for,
    run_parent,
    shell,
    spawn,
)

pytestmark = pytest.mark.usefixtures("lever_home")


async def test_worktree_mode_returns_a_diff_and_leaves_the_parents_tree_alone(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    status_before = git(repo, "status", "--porcelain")
    # The child sees the parent's uncommitted edit of b.txt, and changes a.txt in its tree.
    edit = "grep -q edited src/b.txt && printf 'alpha\\nfrom the child\\n' > src/a.txt"
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child change a.txt", "worktree", call_id="w")]},
                {"text": "the child's diff is back"},
            ],
            "child": [{"tool_calls": [shell(edit)]}, {"text": "a.txt now has a second line"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, events = await run_parent(request_for(repo, server), "ROLE:parent go")

    output = outputs_by_call(events)["w"]
    assert not output.is_error, output.output
    assert "a.txt now has a second line" in output.output
    assert "Its diff: 1 files, +1 -0" in output.output
    assert "+from the child" in output.output
    (started,) = [e for e in events if isinstance(e, ChildStarted)]
    assert started.mode == "worktree" and Path(started.cwd) != repo / "src"
    (ended,) = [e for e in events if isinstance(e, ChildFinished)]
    assert (ended.files_changed, ended.lines_added, ended.lines_removed) == (1, 1, 0)
    # The whole diff is kept beside the parent's rollout and applies to the parent's tree.
    assert ended.diff_path is not None and parent.rollout is not None
    diff_file = Path(ended.diff_path)
    assert diff_file.parent == parent.rollout.artifacts_dir
    assert "b.txt" not in diff_file.read_text()  # the carried-over edit is not the child's work
    # The parent's tree is untouched; the worktree and its branch are gone.
    assert (repo / "src" / "a.txt").read_text() == "alpha\n"
    assert git(repo, "status", "--porcelain") == status_before
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repo, "branch", "--list", "lever/subagent/*") == ""
    assert not Path(started.cwd).exists()
    git(repo, "apply", "--check", str(diff_file))


async def test_worktree_mode_is_refused_under_a_read_only_parent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child edit", "worktree", call_id="w")]},
                {"text": "refused"},
            ],
        }
    )
    with FakeModelServer(responder=roles) as server:
        request = request_for(repo, server, sandbox="read-only")
        _, events = await run_parent(request, "ROLE:parent go")
    output = outputs_by_call(events)["w"]
    assert output.is_error and "needs a writable sandbox" in output.output
    assert not [e for e in events if isinstance(e, ChildStarted)]


async def test_interrupting_the_parent_interrupts_the_child(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [{"tool_calls": [spawn("ROLE:child wait", call_id="c")]}],
            "child": [{"tool_calls": [shell("sleep 30")]}, {"text": "never"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        opened = frontend.open_session(request_for(repo, server))
        parent = opened.session
        events: list[object] = []
        parent.subscribe(events.append)

        def watch(event: object) -> None:
            # The child's `sleep` started: interrupt the parent, as Ctrl-C does.
            inner = getattr(event, "event", None)
            if isinstance(inner, dict) and inner.get("type") == "tool_started":
                asyncio.get_running_loop().call_later(0.3, parent.interrupt)

        parent.subscribe(watch)
        parent.start()
        began = asyncio.get_running_loop().time()
        finished = await frontend.drive(parent, ["ROLE:parent go"])
        took = asyncio.get_running_loop().time() - began

    assert finished.reason == "interrupted" and took < 20
    (ended,) = [e for e in events if isinstance(e, ChildFinished)]
    assert ended.reason == "interrupted"
    (started,) = [e for e in events if isinstance(e, ChildStarted)]
    assert started.rollout is not None
    child_events = read_events(started.rollout)
    child_ends = [e for e in child_events if isinstance(e, TurnFinished)]
    assert [e.reason for e in child_ends] == ["interrupted"]
    assert child_events[-1].type == "session_ended"
    assert not [e for e in events if isinstance(e, ToolStarted) and e.name == "shell"]


async def test_the_parent_resumes_after_its_children(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child look", call_id="c")]},
                {"text": "first answer"},
            ],
            "child": [{"text": "child answer"}],
            "again": [{"text": "resumed answer"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, _ = await run_parent(request_for(repo, server), "ROLE:parent go")
        assert parent.rollout is not None
        resumed = frontend.open_session(frontend.Request(cwd=repo, resume=parent.rollout.path))
        resumed.begin()
        finished = await frontend.drive(resumed.session, ["ROLE:again and now?"])
    assert finished.reason == "done" and finished.last_message == "resumed answer"
    # The resumed request carries the child's answer as the spawn_agent call's output.
    assert "child answer" in str(roles.bodies["again"][0]["messages"])
