"""Sub-agents (`spawn_agent`): a parent opened through the front-end flow delegates subtasks to
children that talk to the same fake model server, run real commands in the real sandbox and
write their own rollouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.agent.resume import replay
from lever.protocol import (
    ChildEvent,
    ChildFinished,
    ChildStarted,
    SessionStarted,
    TurnFinished,
)
from lever.testing.fake_model import FakeModelServer

from .subagent_support import (
    Roles,
    make_repo,
    outputs_by_call,
    parent_spawns,
    read_events,
    request_for,
    run_parent,
    shell,
    spawn,
    tool_names,
)

pytestmark = pytest.mark.usefixtures("lever_home")


async def test_a_parent_delegates_two_subtasks_that_run_at_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": parent_spawns(
                {"call_a": "ROLE:child-a read src/a.txt", "call_b": "ROLE:child-b read src/b.txt"},
                "both children answered",
            ),
            # The first reply waits, so the two children are seen running at the same time.
            "child-a": [
                {"tool_calls": [shell("cat src/a.txt")], "delay_ms": 300},
                {"text": "a.txt holds alpha"},
            ],
            "child-b": [
                {"tool_calls": [shell("cat src/b.txt")], "delay_ms": 300},
                {"text": "b.txt holds beta, edited"},
            ],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, events = await run_parent(request_for(repo, server), "ROLE:parent split it")

    finished = [e for e in events if isinstance(e, TurnFinished)]
    assert [f.reason for f in finished] == ["done"]
    assert finished[0].last_message == "both children answered"
    outputs = outputs_by_call(events)
    assert not outputs["call_a"].is_error and "a.txt holds alpha" in outputs["call_a"].output
    assert not outputs["call_b"].is_error and "b.txt holds beta, edited" in outputs["call_b"].output
    # Both children asked for their first step before either asked for its second.
    order = [seen for seen in roles.seen if seen[0].startswith("child")]
    assert {order[0], order[1]} == {("child-a", 0), ("child-b", 0)}
    # The parent is offered the tool; a child at the depth limit is not.
    assert "spawn_agent" in tool_names(roles.bodies["parent"][0])
    assert "spawn_agent" not in tool_names(roles.bodies["child-a"][0])
    # Each child ran its own command and its output reached it, not the parent.
    assert "alpha" in str(roles.bodies["child-a"][1]["messages"][-1]["content"])

    started = {e.call_id: e for e in events if isinstance(e, ChildStarted)}
    ended = {e.call_id: e for e in events if isinstance(e, ChildFinished)}
    assert set(started) == set(ended) == {"call_a", "call_b"}
    assert all(e.reason == "done" and e.turns == 2 and e.tokens > 0 for e in ended.values())
    forwarded = {e.child_id for e in events if isinstance(e, ChildEvent)}
    assert forwarded == {e.child_id for e in started.values()}

    # The parent's rollout links the children's; every rollout is valid and resumable.
    assert parent.rollout is not None
    recorded = read_events(parent.rollout.path)
    assert not [e for e in recorded if isinstance(e, ChildEvent)]  # live only
    assert {e.child_id for e in recorded if isinstance(e, ChildStarted)} == {
        e.child_id for e in started.values()
    }
    for child in started.values():
        assert child.rollout is not None
        child_events = read_events(child.rollout)
        head = child_events[0]
        assert isinstance(head, SessionStarted) and head.session_id == child.child_id
        assert head.sandbox == "read-only" and head.limits["max_turns"] == 50
        assert not replay(child_events).open_turn
    replayed = replay(recorded)
    assert not replayed.open_turn
    assert "a.txt holds alpha" in str(replayed.history)


async def test_a_child_over_its_budget_is_stopped_and_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    usage = {"input_tokens": 200, "output_tokens": 0}
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child loop", max_tokens=300, call_id="c1")]},
                {"text": "the child ran out"},
            ],
            "child": [{"tool_calls": [shell("true")], "usage": usage}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        parent, events = await run_parent(request_for(repo, server), "ROLE:parent go")

    output = outputs_by_call(events)["c1"]
    assert output.is_error
    assert "did not finish (limit: token limit reached (400 of 300)" in output.output
    (ended,) = [e for e in events if isinstance(e, ChildFinished)]
    assert (ended.reason, ended.tokens, ended.turns) == ("limit", 400, 2)
    # The parent went on, and the child's tokens are the parent's too.
    assert [e.reason for e in events if isinstance(e, TurnFinished)] == ["done"]
    assert parent.usage.total_tokens >= 400 + 2 * 10


async def test_the_childs_tokens_count_toward_the_parents_limit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [
                {
                    "tool_calls": [spawn("ROLE:child loop", call_id="c1")],
                    "usage": {"input_tokens": 100, "output_tokens": 0},
                },
                {"text": "never reached"},
            ],
            "child": [
                {"tool_calls": [shell("true")], "usage": {"input_tokens": 150, "output_tokens": 0}}
            ],
        }
    )
    with FakeModelServer(responder=roles) as server:
        _, events = await run_parent(request_for(repo, server, max_tokens=500), "ROLE:parent go")

    (started,) = [e for e in events if isinstance(e, ChildStarted)]
    assert started.limits["max_tokens"] == 400  # what the parent had left
    (ended,) = [e for e in events if isinstance(e, ChildFinished)]
    assert ended.reason == "limit" and ended.tokens == 450
    (finished,) = [e for e in events if isinstance(e, TurnFinished)]
    assert finished.reason == "limit" and "token limit reached (550 of 500)" in finished.detail
    assert "never reached" not in str(events)


async def test_depth_and_count_limits_refuse_with_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": parent_spawns(
                {"first": "ROLE:child-a nest", "second": "ROLE:child-b too many"}, "done"
            ),
            "child-a": [
                {"tool_calls": [spawn("ROLE:grandchild deeper", call_id="deeper")]},
                {"text": "I could not nest"},
            ],
        }
    )
    overrides = ["subagents.max_concurrent=1"]
    with FakeModelServer(responder=roles) as server:
        _, events = await run_parent(
            request_for(repo, server, overrides=overrides), "ROLE:parent go"
        )

    outputs = outputs_by_call(events)
    assert outputs["second"].is_error
    assert "spawn_agent refused: 1 sub-agents are running, the most at once" in (
        outputs["second"].output
    )
    assert "max_concurrent = 1" in outputs["second"].output
    assert not outputs["first"].is_error and "I could not nest" in outputs["first"].output
    # The child's own attempt to spawn was refused, and said why.
    deeper = roles.bodies["child-a"][1]["messages"][-1]["content"]
    assert "cannot start sub-agents of its own ([subagents] max_depth = 1)" in str(deeper)
    assert "grandchild" not in roles.bodies
    assert len([e for e in events if isinstance(e, ChildStarted)]) == 1


async def test_the_total_count_is_bounded_per_session(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child one", call_id="one")]},
                {"tool_calls": [spawn("ROLE:child two", call_id="two")]},
                {"text": "done"},
            ],
            "child": [{"text": "ok"}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        request = request_for(repo, server, overrides=["subagents.max_total=1"])
        _, events = await run_parent(request, "ROLE:parent go")

    outputs = outputs_by_call(events)
    assert not outputs["one"].is_error
    assert outputs["two"].is_error and "max_total = 1" in outputs["two"].output


async def test_a_childs_failure_is_reported_to_the_parent_not_fatal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    roles = Roles(
        {
            "parent": [
                {"tool_calls": [spawn("ROLE:child fail", call_id="c1")]},
                {"text": "the child failed, I carried on"},
            ],
            "child": [{"error": {"status": 400, "message": "the model refuses this"}}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        _, events = await run_parent(request_for(repo, server), "ROLE:parent go")

    output = outputs_by_call(events)["c1"]
    assert output.is_error and "did not finish (error: model:" in output.output
    assert "the model refuses this" in output.output
    (ended,) = [e for e in events if isinstance(e, ChildFinished)]
    assert ended.reason == "error"
    (finished,) = [e for e in events if isinstance(e, TurnFinished)]
    assert finished.reason == "done" and finished.last_message == "the child failed, I carried on"


async def test_children_together_cannot_spend_past_the_parents_limit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    cost = {"input_tokens": 150, "output_tokens": 0}
    roles = Roles(
        {
            "parent": parent_spawns(
                {"a": "ROLE:child-a loop", "b": "ROLE:child-b loop"},
                "never reached",
                usage={"input_tokens": 100, "output_tokens": 0},
            ),
            # Each child may spend 400 (what the parent has left); together they may not.
            "child-a": [{"tool_calls": [shell("true")], "usage": cost, "delay_ms": 100}],
            "child-b": [{"tool_calls": [shell("true")], "usage": cost, "delay_ms": 100}],
        }
    )
    with FakeModelServer(responder=roles) as server:
        _, events = await run_parent(request_for(repo, server, max_tokens=500), "ROLE:parent go")

    ended = [e for e in events if isinstance(e, ChildFinished)]
    assert len(ended) == 2
    assert all(e.reason == "limit" for e in ended)
    assert all(e.detail == "the parent's token limit was reached (500 tokens)" for e in ended)
    assert sum(e.tokens for e in ended) <= 400 + 2 * 150  # at most one request over each
    outputs = outputs_by_call(events)
    assert all("the parent's token limit was reached" in outputs[c].output for c in "ab")
    (finished,) = [e for e in events if isinstance(e, TurnFinished)]
    assert finished.reason == "limit"
