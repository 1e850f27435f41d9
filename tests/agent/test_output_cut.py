"""Replies cut at the output limit (all three wires), and empty replies, never end a turn as a
success: the model is told, its cap raised where the model allows, and asked again."""

from __future__ import annotations

from pathlib import Path

from lever.agent.session import Session
from lever.cli.exec import exit_code_for
from lever.protocol import ToolOutput, UserMessage
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

from .conftest import assert_one_output_per_call

CUT_PATCH = '{"input": "*** Begin Patch\\n*** Add File: notes.txt\\n+first line\\n+second li'


def harness(session: Session, tag: str) -> list[str]:
    return [
        item.text
        for item in session.history
        if isinstance(item, UserMessage) and item.text.startswith(f"<{tag}>")
    ]


async def test_a_cut_answer_is_continued_not_reported(wire, make_session) -> None:
    script = [{"text": "Here is the long explanation, part", "cut": True}, {"text": "Done."}]
    with FakeModelServer(script) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("explain")
        last_request = server.requests[-1].raw.decode()
    assert finished.reason == "done" and finished.last_message == "Done."
    (note,) = harness(session, "output_cut")
    assert "cut off" in note and "output limit" in note
    assert "cut off" in last_request
    retry = [e for e in session.events if e.type == "error" and e.kind == "cut"]
    assert len(retry) == 1 and retry[0].retrying


async def test_a_cut_tool_call_is_not_run_and_is_called_cut(wire, make_session, tmp_path) -> None:
    cut = {"tool_calls": [{"name": "apply_patch", "arguments": CUT_PATCH}], "cut": True}
    with FakeModelServer([cut, {"text": "I will write it in smaller parts."}]) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("write the notes")
    assert finished.reason == "done"
    (output,) = [item for item in session.history if isinstance(item, ToolOutput)]
    assert output.is_error and "cut off at the output limit" in output.output
    assert "not a JSON mistake" in output.output and "invalid JSON" not in output.output
    assert not (tmp_path / "notes.txt").exists()
    assert_one_output_per_call(session)


async def test_replies_cut_again_and_again_fail_the_turn(wire, make_session) -> None:
    cut = {"text": "It goes on and on", "cut": True}
    with FakeModelServer([cut] * 3) as server:
        session = make_session(server, wire)
        finished = await session.run_turn("explain")
    assert finished.reason == "error" and finished.detail.startswith("cut:")
    assert exit_code_for(finished) != 0
    assert finished.last_message == ""  # a cut reply is never given as the answer


async def test_an_empty_answer_is_asked_again_then_fails(make_session) -> None:
    with FakeModelServer([{}, {"text": "All done: tests pass."}]) as server:
        session = make_session(server, "openai-chat")
        finished = await session.run_turn("do it")
    assert finished.reason == "done" and finished.last_message == "All done: tests pass."
    assert len(harness(session, "empty_reply")) == 1
    with FakeModelServer([{}, {}]) as server:
        session = make_session(server, "anthropic")
        finished = await session.run_turn("do it")
    assert finished.reason == "error" and finished.detail.startswith("empty:")
    assert exit_code_for(finished) == 1


async def test_anthropic_output_cap_is_raised_after_a_cut(tmp_path: Path) -> None:
    script = [{"text": "A very long answer", "cut": True}, {"text": "Short answer."}]
    with FakeModelServer(script) as server:
        session = fake_session(
            server, tmp_path, wire="anthropic", model="claude-sonnet-4-5", retry_base_delay=0.5
        )
        session.start()
        finished = await session.run_turn("explain")
        await session.close()
        caps = [body["max_tokens"] for body in server.bodies("/messages")]
    assert finished.reason == "done"
    assert caps == [8192, 64000]
