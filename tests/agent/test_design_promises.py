"""DESIGN.md §11 promises: the early-stop nudge, the model-visible budget, and running
processes re-announced after a compaction."""

from __future__ import annotations

import json

from lever.agent.limits import Limits
from lever.protocol import UserMessage
from lever.testing.fake_model import FakeModelServer

PLAN = {
    "plan": [
        {"step": "Fix the parser", "status": "completed"},
        {"step": "Run the tests", "status": "pending"},
    ]
}
SET_PLAN = {"tool_calls": [{"name": "update_plan", "arguments": PLAN}]}


def tagged(session, tag: str) -> list[str]:
    return [
        item.text
        for item in session.history
        if isinstance(item, UserMessage) and item.text.startswith(f"<{tag}>")
    ]


async def test_stopping_with_open_plan_steps_gets_one_nudge(wire, make_session) -> None:
    script = [SET_PLAN, {"text": "I fixed the parser."}, {"text": "Stopping here."}]
    with FakeModelServer(script) as server:
        session = make_session(server, wire, plan_nudges=1)
        finished = await session.run_turn("fix it and run the tests")
    assert finished.reason == "done" and finished.last_message == "Stopping here."
    (nudge,) = tagged(session, "plan_nudge")
    assert "[pending] Run the tests" in nudge and "Fix the parser" not in nudge
    assert len(server.requests) == 3  # bounded: one nudge, then the answer stands


async def test_no_nudge_when_the_model_asks_the_person(make_session) -> None:
    script = [SET_PLAN, {"text": "Which test runner should I use?"}]
    with FakeModelServer(script) as server:
        session = make_session(server, "openai-chat", plan_nudges=1)
        finished = await session.run_turn("fix it")
    assert finished.reason == "done" and not tagged(session, "plan_nudge")


async def test_the_model_sees_its_budget_before_each_task(make_session) -> None:
    with FakeModelServer([{"text": "one"}, {"text": "two"}]) as server:
        session = make_session(
            server, "openai-responses", budget_note=True, limits=Limits(7, max_seconds=900)
        )
        await session.run_turn("first")
        await session.run_turn("second")
        bodies = server.bodies("/responses")
    first = [json.dumps(item) for item in bodies[0]["input"]]
    assert "<budget>" in first[-2] and "7 model requests, 900 s" in first[-2]
    assert "first" in first[-1]  # the person's message stays the last item
    second = [json.dumps(item) for item in bodies[1]["input"]]
    assert second[: len(first)] == first  # appended: the prefix stays byte-stable
    assert "<budget>" in second[-2] and "context: about" in second[-2]


async def test_a_mostly_spent_turn_limit_is_told_once(make_session) -> None:
    step = {"tool_calls": [{"name": "shell", "arguments": {"command": ["echo", "x"]}}]}
    with FakeModelServer([step] * 5 + [{"text": "wrapped up"}]) as server:
        session = make_session(server, "openai-chat", budget_note=True, limits=Limits(6))
        finished = await session.run_turn("go")
    assert finished.reason == "done"
    (note,) = tagged(session, "budget")
    assert "left for this task: 1 model request" in note


async def test_running_processes_are_reannounced_after_compaction(make_session) -> None:
    server_cmd = {"command": "exec sleep 30", "yield_ms": 200}
    script = [
        {"tool_calls": [{"name": "shell", "arguments": server_cmd}]},
        {"text": "Started."},
        {"text": "summary of the work"},
    ]
    with FakeModelServer(script) as server:
        session = make_session(server, "anthropic")
        await session.run_turn("start the server")
        await session.compact()
    (note,) = tagged(session, "running_processes")
    assert "p1: exec sleep 30" in note
