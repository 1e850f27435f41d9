"""The turn loop against the fake model server, over each wire protocol."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lever.agent.limits import Limits
from lever.protocol import (
    AssistantMessage,
    ErrorEvent,
    ToolCall,
    ToolOutput,
    TurnFinished,
    UserMessage,
)
from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import assert_one_output_per_call


def tool_outputs(session: Any) -> list[ToolOutput]:
    return [item for item in session.history if isinstance(item, ToolOutput)]


def retries(session: Any) -> list[ErrorEvent]:
    return [e for e in session.events if isinstance(e, ErrorEvent) and e.retrying]


async def test_answer_without_tools_finishes(wire, make_session) -> None:
    with FakeModelServer([{"text": "Hello there."}]) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("hi")
    assert (finished.reason, finished.last_message) == ("done", "Hello there.")
    assert isinstance(session.history[0], UserMessage)
    assert "<environment_context>" in session.history[0].text
    assert session.history[-1] == AssistantMessage(text="Hello there.", id=session.history[-1].id)


async def test_429_then_success(wire, make_session) -> None:
    script = [{"error": {"status": 429, "message": "slow down", "retry_after": 0}}, {"text": "ok"}]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
        assert len(server.requests) == 2
    assert finished.reason == "done" and finished.last_message == "ok"
    assert len(retries(session)) == 1 and "slow down" in retries(session)[0].message


async def test_500_then_success(wire, make_session) -> None:
    script = [{"error": {"status": 500, "message": "upstream broke"}}, {"text": "ok"}]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
    assert finished.reason == "done"
    assert retries(session)[0].kind == "http_500"


async def test_stream_cut_in_the_middle_then_success(wire, make_session) -> None:
    cut = {
        "text": "a long answer that will be cut",
        "tool_calls": [{"name": "shell", "arguments": {"command": "echo never"}}],
        "drop_after": 4,
    }
    with FakeModelServer([cut, {"text": "second try"}]) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
    assert finished.reason == "done" and finished.last_message == "second try"
    # Nothing of the broken attempt entered the history.
    assert [type(i).__name__ for i in session.history] == [
        "UserMessage",
        "UserMessage",
        "AssistantMessage",
    ]
    assert len(retries(session)) == 1


async def test_401_stops_with_a_clear_error(wire, make_session) -> None:
    with FakeModelServer([{"text": "unused"}], api_key="right") as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
        assert len(server.requests) == 1  # not retried
    assert finished.reason == "error" and finished.detail.startswith("auth:")
    assert "401" in finished.detail


async def test_invalid_json_and_unknown_tool_go_back_to_the_model(wire, make_session) -> None:
    script = [
        {"tool_calls": [{"name": "shell", "arguments": '{"command": "ls"', "call_id": "c_bad"}]},
        {"tool_calls": [{"name": "teleport", "arguments": {}, "call_id": "c_unknown"}]},
        {"text": "recovered"},
    ]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
        last_body = json.dumps(server.requests[-1].body)
    assert finished.reason == "done" and finished.last_message == "recovered"
    bad, unknown = tool_outputs(session)
    assert bad.call_id == "c_bad" and bad.is_error and "not valid JSON" in bad.output
    assert unknown.call_id == "c_unknown" and "unknown tool 'teleport'" in unknown.output
    assert "not valid JSON" in last_body and "unknown tool" in last_body
    assert_one_output_per_call(session)


async def test_unparseable_reply_is_retried_without_entering_history(wire, make_session) -> None:
    garbage = {"raw": "data: {this is not json\n\n"}
    with FakeModelServer([garbage, {"text": "fine now"}]) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
    assert finished.reason == "done" and finished.last_message == "fine now"
    malformed = [e for e in session.events if isinstance(e, ErrorEvent) and e.kind == "malformed"]
    assert len(malformed) == 1
    assert len(session.history) == 3


LLAMA_PARSE_ERROR = (
    "Failed to parse tool call arguments as JSON: [json.exception.parse_error.101] parse error "
    "at line 1, column 1829: syntax error while parsing value - invalid string"
)


async def test_a_tool_call_the_server_cannot_read_is_explained_to_the_model(
    wire, make_session
) -> None:
    # llama-server answers 500 when the model's call is not JSON; at temperature 0 the same
    # request fails the same way, so the next one must tell the model why.
    script = [{"error": {"status": 500, "message": LLAMA_PARSE_ERROR}}, {"text": "fixed"}]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("go")
        bodies = [json.dumps(request.body) for request in server.requests]
    assert finished.reason == "done" and finished.last_message == "fixed"
    assert len(bodies) == 2, "a parse failure is not a transport error to retry blindly"
    assert "<tool_call_error>" not in bodies[0] and "<tool_call_error>" in bodies[1]
    assert "parse error at line 1, column 1829" in bodies[1]
    notes = [
        i for i in session.history if isinstance(i, UserMessage) and "tool_call_error" in i.text
    ]
    assert len(notes) == 1 and "nothing was run" in notes[0].text


async def test_three_unparseable_replies_end_the_turn(make_session) -> None:
    garbage = {"raw": "data: {nope\n\n"}
    with FakeModelServer([garbage] * 3) as server:
        session = make_session(server, "openai-chat")
        finished = await session.run_turn("go")
        assert len(server.requests) == 3
    assert finished.reason == "error"


async def test_interrupt_kills_the_command_and_answers_the_call(make_session, tmp_path) -> None:
    script = [
        {
            "tool_calls": [
                {
                    "name": "shell",
                    "call_id": "c_sleep",
                    "arguments": {"command": "echo $$ > pid.txt; exec sleep 30", "yield_ms": 60000},
                }
            ]
        }
    ]
    with FakeModelServer(script) as server:
        session = make_session(server, "openai-chat")
        turn = asyncio.create_task(session.run_turn("go"))
        for _ in range(100):
            if (tmp_path / "pid.txt").exists() and (tmp_path / "pid.txt").read_text().strip():
                break
            await asyncio.sleep(0.05)
        pid = int((tmp_path / "pid.txt").read_text())
        session.interrupt()
        finished = await asyncio.wait_for(turn, 10)
    assert finished.reason == "interrupted"
    (output,) = tool_outputs(session)
    assert output.call_id == "c_sleep" and output.is_error and "interrupted" in output.output
    await asyncio.sleep(0.2)
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text().lower()
    assert_one_output_per_call(session)


async def test_turn_limit(make_session) -> None:
    loop = {"tool_calls": [{"name": "shell", "arguments": {"command": "true"}}]}
    with FakeModelServer([loop] * 5) as server:
        session = make_session(server, "anthropic", limits=Limits(max_turns=3))
        finished = await session.run_turn("go")
        assert len(server.requests) == 3
    assert finished.reason == "limit" and "3 model requests" in finished.detail
    assert_one_output_per_call(session)


async def test_rollout_rebuilds_the_history(wire, make_session, tmp_path) -> None:
    script = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo hi"}}]},
        {"text": "done"},
    ]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        await session.run_turn("go")
    events = list(read_rollout(tmp_path / "rollout.jsonl"))
    rebuilt = [e.item for e in events if e.type == "item"]
    assert rebuilt == session.history
    assert isinstance(rebuilt[2], ToolCall) and isinstance(events[-1], TurnFinished)


async def test_several_read_only_calls_run_at_once_outputs_in_order(make_session) -> None:
    script = [
        {
            "tool_calls": [
                {"name": "shell", "arguments": {"command": "echo first"}, "call_id": "c1"},
                {"name": "shell", "arguments": {"command": ["pwd"]}, "call_id": "c2"},
            ]
        },
        {"text": "done"},
    ]
    with FakeModelServer(script) as server:
        session = make_session(server, "openai-chat")
        finished = await session.run_turn("go")
    assert finished.reason == "done"
    first, second = tool_outputs(session)
    assert (first.call_id, second.call_id) == ("c1", "c2")
    assert "first" in first.output and str(session.cwd) in second.output
    order = [
        (e.type, e.call_id) for e in session.events if e.type in ("tool_started", "tool_finished")
    ]
    # Both started before either finished: they ran at once.
    assert [kind for kind, _ in order[:2]] == ["tool_started", "tool_started"]


async def test_a_repeated_call_is_nudged_once_then_stopped_as_stuck(make_session) -> None:
    again = {"tool_calls": [{"name": "shell", "arguments": {"command": ["echo", "same"]}}]}
    with FakeModelServer([again] * 5) as server:
        session = make_session(server, "openai-chat", stuck_detection=True)
        finished = await session.run_turn("go")
        requests = [r.body for r in server.requests]
    assert finished.reason == "stuck" and "repeated the same `shell` call" in finished.detail
    assert len(requests) == 3  # first call, the repeat (nudged), the repeat after the nudge
    nudges = [m for m in requests[2]["messages"] if "<nudge>" in str(m.get("content"))]
    assert len(nudges) == 1 and "same tool call again" in nudges[0]["content"]
    assert_one_output_per_call(session)
