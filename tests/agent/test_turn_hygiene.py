"""After an interrupt or an exception the history stays valid: every call answered once, in call
order, finished calls with their real results, and the model told that the person stopped it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lever.protocol import ToolFinished, ToolOutput, ToolStarted, UserMessage
from lever.testing.fake_model import FakeModelServer

from .conftest import assert_one_output_per_call


def outputs(session: Any) -> list[ToolOutput]:
    return [item for item in session.history if isinstance(item, ToolOutput)]


async def test_interrupting_parallel_read_only_calls_keeps_finished_results(
    make_session, tmp_path: Path
) -> None:
    (tmp_path / "log.txt").write_text("line\n")
    calls = [
        {"name": "shell", "arguments": {"command": ["echo", "first"]}, "call_id": "c1"},
        {
            "name": "shell",
            "arguments": {"command": ["tail", "-f", "log.txt"], "yield_ms": 60000},
            "call_id": "c2",
        },
        {"name": "shell", "arguments": {"command": ["echo", "third"]}, "call_id": "c3"},
    ]
    with FakeModelServer([{"tool_calls": calls}, {"text": "fine"}]) as server:
        session = make_session(server, "openai-responses")
        turn = asyncio.create_task(session.run_turn("look"))
        for _ in range(200):
            done = {e.call_id for e in session.events if isinstance(e, ToolFinished)}
            if {"c1", "c3"} <= done:
                break
            await asyncio.sleep(0.02)
        session.interrupt()
        finished = await asyncio.wait_for(turn, 10)
        assert finished.reason == "interrupted"
        # The next message's request carries the real results and the interruption notice.
        await session.run_turn("what now?")
        request = server.bodies("/responses")[-1]["input"]

    first, second, third = outputs(session)
    assert [o.call_id for o in (first, second, third)] == ["c1", "c2", "c3"]
    assert "first" in first.output and not first.is_error
    assert "third" in third.output and not third.is_error
    assert second.is_error and "interrupted" in second.output
    finished_events = [e.call_id for e in session.events if isinstance(e, ToolFinished)]
    assert sorted(finished_events) == ["c1", "c2", "c3"]  # exactly one each
    assert_one_output_per_call(session)
    texts = [m.text for m in session.history if isinstance(m, UserMessage)]
    assert texts[-2].startswith("<turn_aborted>") and "interrupted" in texts[-2]
    assert texts[-1] == "what now?"
    sent = [item.get("output") for item in request if item.get("type") == "function_call_output"]
    assert "first" in sent[0] and "third" in sent[2]


class RaiseOnce:
    """A front end's sink with a bug: it raises on the first event of a kind."""

    def __init__(self, kind: type[BaseModel]) -> None:
        self.kind = kind
        self.raised = False

    def __call__(self, event: BaseModel) -> None:
        if isinstance(event, self.kind) and not self.raised:
            self.raised = True
            raise RuntimeError("renderer bug")


async def test_an_exception_in_a_turn_leaves_the_history_valid_and_the_session_usable(
    wire, make_session
) -> None:
    step = {
        "tool_calls": [
            {"name": "shell", "arguments": {"command": ["echo", "a"]}, "call_id": "call_a"},
            {"name": "shell", "arguments": {"command": ["echo", "b"]}, "call_id": "call_b"},
        ]
    }
    with FakeModelServer([step, {"text": "again"}]) as server:
        session = make_session(server, wire)
        session.subscribe(RaiseOnce(ToolStarted))
        finished = await session.run_turn("go")
        assert finished.reason == "error" and "renderer bug" in finished.detail
        assert_one_output_per_call(session)
        errors = [e for e in session.events if e.type == "error"]
        assert errors and errors[-1].kind == "internal"
        second = await session.run_turn("and now?")
        assert second.reason == "done" and second.last_message == "again"
        body = server.requests[-1].raw.decode()
    assert body.count("call_a") == 2 and body.count("call_b") == 2  # call and output
