"""A sub-agent's session in the record: its rollout names its parent, listings show it under the
parent (not as one of the person's sessions), and a resume keeps the count and the depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lever import frontend
from lever.agent.session import Session
from lever.agent.subagents import ChildRequest, ChildSetup, Spawner, SubagentSettings
from lever.cli.main import main
from lever.dashboard import sessions as dashboard
from lever.protocol import ChildStarted, SessionStarted, TurnFinished
from lever.store.index import SessionIndex
from lever.testing.fake_model import FakeModelServer

from . import subagent_support as sub

pytestmark = pytest.mark.usefixtures("lever_home")


async def resume(path: Path, prompt: str, **more: Any) -> list[Any]:
    """Continue the recorded session of `path` (through the front-end flow) with `prompt`."""
    opened = frontend.open_session(frontend.Request(cwd=Path.cwd(), resume=path, **more))
    events: list[Any] = []
    opened.session.subscribe(events.append)
    opened.begin()
    await frontend.drive(opened.session, [prompt])
    return events


def first_started(path: str | Path) -> SessionStarted:
    head = sub.read_events(path)[0]
    assert isinstance(head, SessionStarted)
    return head


async def test_children_are_recorded_under_their_parent_and_listed_there(
    tmp_path: Path, lever_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = sub.make_repo(tmp_path)
    calls = {"a": "ROLE:child-a look at a.txt", "b": "ROLE:child-b look at b.txt"}
    roles = sub.Roles(
        {
            "parent": sub.parent_spawns(calls, "both answered"),
            "child-a": [{"text": "a says alpha"}],
            "child-b": [{"text": "b says beta"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, events = await sub.run_parent(sub.request_for(repo, server), "ROLE:parent go")

    # Each child's own rollout says whose sub-agent it is, from which call, how deep.
    assert parent.rollout is not None
    assert first_started(parent.rollout.path).parent_id is None
    children = {e.call_id: e for e in events if isinstance(e, ChildStarted)}
    for call_id, child in children.items():
        assert child.rollout is not None
        head = first_started(child.rollout)
        assert (head.session_id, head.parent_id) == (child.child_id, parent.id)
        assert (head.parent_call_id, head.depth) == (call_id, 1)
    child_ids = {child.child_id for child in children.values()}

    with SessionIndex(lever_home) as index:
        index.update()
        (top,) = index.list_sessions()
        nested = index.list_sessions(children=True)
        assert index.last_session(repo) == parent.rollout.path.resolve()
    assert (top.id, top.children, top.parent_id) == (parent.id, 2, None)
    assert nested[0] == top and {row.id for row in nested[1:]} == child_ids
    assert all((row.parent_id, row.depth) == (parent.id, 1) for row in nested[1:])

    assert main(["sessions", "--all"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "SUB-AGENTS"
    assert [line.split()[0] for line in lines] == [parent.id]
    assert lines[0].split()[-1] == "2"
    assert main(["sessions", "--all", "--children"]) == 0
    _, *lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(parent.id)
    assert {line.split()[1] for line in lines[1:]} == child_ids
    assert all(line.startswith("↳ ") for line in lines[1:])

    # The dashboard reads the same index: the person's session only, its folder only.
    assert [row["id"] for row in dashboard.list_sessions(lever_home)] == [parent.id]
    assert dashboard.list_sessions(lever_home, q="alpha") == []  # said only by a child
    assert dashboard.projects(lever_home) == [str(repo)]


async def test_a_resumed_parent_goes_on_counting_its_children(tmp_path: Path) -> None:
    repo = sub.make_repo(tmp_path)
    roles = sub.Roles(
        {
            "parent": sub.parent_spawns({"first": "ROLE:child one"}, "one child ran"),
            "child": [{"text": "ok"}],
            # The resumed requests carry the first run's tool output too: its steps count from 1.
            "again": [
                {"text": "unused"},
                {"tool_calls": [sub.spawn("ROLE:child two", call_id="second")]},
                {"text": "refused, as it should be"},
            ],
        }
    )
    one = ["subagents.max_total=1"]
    with FakeModelServer(responder=roles) as server:
        request = sub.request_for(repo, server, overrides=one)
        parent, _ = await sub.run_parent(request, "ROLE:parent go")
        assert parent.rollout is not None
        events = await resume(parent.rollout.path, "ROLE:again one more", overrides=one)

    output = sub.outputs_by_call(events)["second"]
    assert output.is_error, output.output
    assert "this session has started 1 sub-agents, its limit" in output.output
    assert [s for s in roles.seen if s[0] == "child"] == [("child", 0)]


async def test_a_resumed_child_keeps_its_depth_and_a_fork_of_it_is_the_persons(
    tmp_path: Path, lever_home: Path
) -> None:
    repo = sub.make_repo(tmp_path)
    roles = sub.Roles(
        {
            "parent": sub.parent_spawns({"c": "ROLE:child look"}, "done"),
            "child": [{"text": "looked"}],
            "again": [{"text": "resumed child"}],
            "forked": [{"text": "forked child"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, events = await sub.run_parent(sub.request_for(repo, server), "ROLE:parent go")
        (started,) = [e for e in events if isinstance(e, ChildStarted)]
        assert started.rollout is not None
        await resume(Path(started.rollout), "ROLE:again go on")
        forked = await resume(Path(started.rollout), "ROLE:forked go on", fork=True)

    # At the depth limit the tool is not offered to the resumed child; the fork may spawn.
    assert "spawn_agent" not in sub.tool_names(roles.bodies["again"][0])
    assert "spawn_agent" in sub.tool_names(roles.bodies["forked"][0])
    resumed_heads = [e for e in sub.read_events(started.rollout) if isinstance(e, SessionStarted)]
    assert [(h.parent_id, h.depth) for h in resumed_heads] == [(parent.id, 1)] * 2
    (fork_head,) = [e for e in forked if isinstance(e, SessionStarted)]
    assert (fork_head.parent_id, fork_head.parent_call_id, fork_head.depth) == (None, None, None)
    with SessionIndex(lever_home) as index:
        index.update()
        listed = {row.id for row in index.list_sessions()}
    assert listed == {parent.id, fork_head.session_id}


class _Unopenable:
    """A flow whose children never open (as when their worktree cannot be made)."""

    def open(self, setup: ChildSetup) -> Session:
        raise OSError("no room for a worktree")

    async def drive(self, session: Session, task: str) -> TurnFinished:
        raise AssertionError("never opened, never driven")


async def test_a_child_that_never_started_does_not_count(tmp_path: Path) -> None:
    """A resume counts `child_started` events; a child that could not open has none, so the
    running session does not count it either."""
    with FakeModelServer(responder=lambda body: {"text": "unused"}) as server:
        opened = frontend.open_session(sub.request_for(sub.make_repo(tmp_path), server))
        spawner = Spawner(opened.session, _Unopenable(), SubagentSettings(max_total=1))
        results = [await spawner.spawn(f"c{n}", ChildRequest("ROLE:child go")) for n in (1, 2)]
        await frontend.close(opened.session, "done")
    assert [r.is_error for r in results] == [True, True]
    assert all("could not start: OSError: no room for a worktree" in r.output for r in results)
    assert spawner.total == 0
