"""Limits count per task (one person message and its steps), and the time limit holds while the
model streams and while a command runs — not only between steps."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lever.agent.limits import Limits
from lever.protocol import ToolOutput, TurnFinished
from lever.testing.fake_model import FakeModelServer

from .conftest import assert_one_output_per_call

STEP = {"tool_calls": [{"name": "shell", "arguments": {"command": ["echo", "step"]}}]}


async def test_each_message_gets_the_whole_turn_limit(make_session) -> None:
    # Three tasks of two requests each, with a limit of two requests: each task fits.
    with FakeModelServer([STEP, {"text": "one"}] * 3) as server:
        session = make_session(server, "openai-chat", limits=Limits(max_turns=2))
        reasons = [(await session.run_turn(f"task {n}")).reason for n in range(3)]
    assert reasons == ["done", "done", "done"]
    assert session.usage.requests == 6 and session.runner.task.requests == 2


async def test_each_message_gets_the_whole_token_limit(make_session) -> None:
    answer = {"text": "ok", "usage": {"input_tokens": 600, "output_tokens": 10}}
    with FakeModelServer([STEP | {"usage": {"input_tokens": 500}}, answer] * 2) as server:
        session = make_session(server, "anthropic", limits=Limits(max_tokens=1200))
        first = await session.run_turn("task one")
        second = await session.run_turn("task two")
    assert (first.reason, second.reason) == ("done", "done")
    assert session.usage.total_tokens > 1200


async def test_the_summary_request_of_a_compaction_is_counted(make_session) -> None:
    summary = {"text": "the summary", "usage": {"input_tokens": 900, "output_tokens": 40}}
    with FakeModelServer([summary]) as server:
        session = make_session(server, "openai-responses")
        await session.compact()
    assert session.usage.total_tokens == 940
    assert session.runner.task.total_tokens == 940
    assert [e.input_tokens for e in session.events if e.type == "token_usage"] == [900]


async def test_time_limit_stops_a_running_command(make_session, tmp_path: Path) -> None:
    command = "echo $$ > pid.txt; exec sleep 20"
    script = [{"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}]
    with FakeModelServer(script) as server:
        session = make_session(server, "openai-chat", limits=Limits(max_seconds=1.0))
        started = time.monotonic()
        finished = await asyncio.wait_for(session.run_turn("go"), 15)
        took = time.monotonic() - started
    assert finished.reason == "limit" and "time limit" in finished.detail
    assert took < 5, took
    (output,) = [item for item in session.history if isinstance(item, ToolOutput)]
    assert output.is_error and "interrupted" in output.output
    assert_one_output_per_call(session)
    pid = int((tmp_path / "pid.txt").read_text())
    await asyncio.sleep(0.2)
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text().lower()
    # The model is told why the turn ended, for the next message.
    assert "time limit" in session.history[-1].text  # type: ignore[union-attr]


async def test_time_limit_stops_a_slow_stream(make_session) -> None:
    slow = {"text": "a long answer " * 20, "event_delay_ms": 400}
    with FakeModelServer([slow]) as server:
        session = make_session(server, "openai-responses", limits=Limits(max_seconds=1.0))
        started = time.monotonic()
        finished = await asyncio.wait_for(session.run_turn("go"), 30)
        took = time.monotonic() - started
    assert isinstance(finished, TurnFinished) and finished.reason == "limit"
    assert took < 3, took


async def test_the_next_task_has_its_own_time(make_session) -> None:
    # Together the two tasks take longer than the limit, each alone well within it (1.5 s of
    # margin: a loaded machine took 0.6 s more than the delay for one step).
    slow_step = STEP | {"delay_ms": 2500}
    script = [slow_step, {"text": "one"}, slow_step, {"text": "two"}]
    with FakeModelServer(script) as server:
        session = make_session(server, "openai-chat", limits=Limits(max_seconds=4.0))
        first = await session.run_turn("one")
        second = await session.run_turn("two")
    assert (first.reason, second.reason) == ("done", "done")
    assert second.last_message == "two"
