"""Compaction with the fake model: thresholds crossed, what is kept, resume afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lever.agent.budget import TokenBudget
from lever.agent.limits import Limits
from lever.agent.resume import replay
from lever.agent.session import Session
from lever.protocol import Compaction
from lever.store.rollout import RolloutWriter, read_rollout
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

WINDOW = 12_000
TASK = "Make every step print its block of x, then report."
PLAN = [
    {"step": "Print the blocks", "status": "in_progress"},
    {"step": "Report", "status": "pending"},
]
STEP = {
    "tool_calls": [
        {"name": "shell", "arguments": {"command": ["python3", "-c", "print('x' * 3000)"]}}
    ]
}


def summary_responder(counter: list[int]) -> Any:
    """Answers the compaction's summary request (its last message asks for the hand-off)."""

    def respond(body: dict[str, Any]) -> dict[str, Any] | None:
        last = (body.get("messages") or body.get("input") or [None])[-1]
        if "context window is nearly full" in json.dumps(last):
            counter.append(1)
            return {"text": f"SUMMARY #{len(counter)}: printed blocks so far; keep going."}
        return None

    return respond


def make(
    server: FakeModelServer,
    cwd: Path,
    rollout: Path,
    wire: str = "openai-chat",
    window: int = WINDOW,
    **kwargs: Any,
) -> Session:
    return fake_session(
        server,
        cwd,
        wire=wire,
        rollout=RolloutWriter(rollout),
        budget=TokenBudget(context_window=window, output_reserve=1_000),
        limits=Limits(max_turns=100),
        **kwargs,
    )


def script(steps: int) -> list[dict[str, Any]]:
    plan_call = {"tool_calls": [{"name": "update_plan", "arguments": {"plan": PLAN}}]}
    return [plan_call, *[STEP] * steps, {"text": "All blocks printed."}]


async def test_three_compactions_keep_prefix_task_plan_and_summary(tmp_path) -> None:
    summaries: list[int] = []
    rollout = tmp_path / "rollout.jsonl"
    with FakeModelServer(script(30), responder=summary_responder(summaries)) as server:
        session = make(server, tmp_path, rollout)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
        bodies = [r.body for r in server.requests]

    assert finished.reason == "done", finished
    assert len(summaries) == 3
    compactions = [e for e in read_rollout(rollout) if isinstance(e, Compaction)]
    assert [c.summary[:10] for c in compactions] == ["SUMMARY #1", "SUMMARY #2", "SUMMARY #3"]

    first_prefix = bodies[0]["messages"][:2]  # system prompt + environment context
    summary_requests = [
        i
        for i, b in enumerate(bodies)
        if "context window is nearly full" in json.dumps(b["messages"][-1])
    ]
    assert len(summary_requests) == 3
    for number, index in enumerate(summary_requests, 1):
        after = bodies[index + 1]["messages"]
        texts = [json.dumps(m) for m in after]
        assert after[:2] == first_prefix  # the prefix is unchanged
        assert after[2] == {"role": "user", "content": TASK}  # the person's task, verbatim
        assert any("[>] Print the blocks" in t and "<plan>" in t for t in texts)
        assert any(f"SUMMARY #{number}" in t and "<handoff_summary>" in t for t in texts)
        assert any("<environment_snapshot>" in t for t in texts)
        assert not any("SUMMARY #" + str(number - 1) + ":" in t for t in texts if number > 1)
    for body in bodies:
        assert len(json.dumps(body)) / 4 < WINDOW  # never past the window


async def test_resume_after_the_third_compaction_sends_the_same_request(tmp_path) -> None:
    summaries: list[int] = []
    rollout = tmp_path / "rollout.jsonl"
    with FakeModelServer(script(30), responder=summary_responder(summaries)) as server:
        session = make(server, tmp_path, rollout)
        session.start()
        await session.run_turn(TASK)
        await session.close()
        bodies = [r.body for r in server.requests]
    events = list(read_rollout(rollout))
    third = [e for e in events if isinstance(e, Compaction)][2]
    index = [
        i
        for i, b in enumerate(bodies)
        if "context window is nearly full" in json.dumps(b["messages"][-1])
    ][2]
    expected_next = bodies[index + 1]

    replayed = replay(events, until_seq=third.seq)
    assert replayed.open_turn and replayed.history == third.kept
    with FakeModelServer([{"text": "resumed"}]) as server:
        resumed = make(server, tmp_path, tmp_path / "resumed.jsonl")
        resumed.restore(replayed)
        finished = await resumed.run_turn(None)
        await resumed.close()
        body = server.requests[0].body
    assert finished.reason == "done" and finished.last_message == "resumed"
    assert json.dumps(body) == json.dumps(expected_next)


async def test_a_huge_task_is_cut_to_fit_and_the_run_goes_on(tmp_path) -> None:
    """The person's first task is always kept, but cut (head and tail) when it cannot fit."""
    summaries: list[int] = []
    huge_task = "begin " + "y" * 40_000 + " end"  # alone, it takes most of the window
    with FakeModelServer([{"text": "fits now"}], responder=summary_responder(summaries)) as server:
        session = make(server, tmp_path, tmp_path / "r.jsonl")
        session.start()
        finished = await session.run_turn(huge_task)
        await session.close()
        after = server.requests[-1].body["messages"]
    assert finished.reason == "done" and finished.last_message == "fits now"
    assert len(summaries) == 1
    task = after[2]["content"]
    assert task.startswith("begin yyy") and task.endswith("yyy end")
    assert "characters cut to fit the context window" in task and len(task) < 10_000


async def test_a_prefix_that_cannot_fit_stops_instead_of_looping(tmp_path) -> None:
    summaries: list[int] = []
    with FakeModelServer([{"text": "never"}], responder=summary_responder(summaries)) as server:
        session = make(server, tmp_path, tmp_path / "r.jsonl", instructions="z" * 60_000)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
    assert finished.reason == "error" and finished.detail.startswith("context:")
    assert len(summaries) == 1  # one compaction, then a clear stop, not a loop


async def test_remote_compaction_sends_the_opaque_item_back_and_resumes_exactly(tmp_path) -> None:
    """`compaction = "remote"`: OpenAI's POST /responses/compact replaces the history."""
    calls: list[int] = []

    def respond(body: dict[str, Any]) -> dict[str, Any] | None:
        if "tools" in body:  # a normal model request
            return None
        calls.append(1)
        return {"text": f"REMOTE #{len(calls)}"}

    rollout = tmp_path / "rollout.jsonl"
    with FakeModelServer(script(14), responder=respond) as server:
        session = make(server, tmp_path, rollout, "openai-responses", remote_compaction=True)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
        requests = list(server.requests)
    assert finished.reason == "done" and len(calls) == 1
    index = next(i for i, r in enumerate(requests) if r.path.endswith("/responses/compact"))
    after = requests[index + 1].body["input"]
    assert after[0] == requests[0].body["input"][0]  # the environment prefix is unchanged
    assert {"type": "compaction", "encrypted_content": "opaque:REMOTE #1"} in after
    texts = json.dumps(after)
    assert TASK in texts and "<plan>" in texts and "<environment_snapshot>" in texts

    events = list(read_rollout(rollout))
    compaction = next(e for e in events if isinstance(e, Compaction))
    replayed = replay(events, until_seq=compaction.seq)
    with FakeModelServer([{"text": "resumed"}]) as server:
        resumed = make(
            server, tmp_path, tmp_path / "resumed.jsonl", "openai-responses", session_id=session.id
        )
        resumed.restore(replayed)
        await resumed.run_turn(None)
        await resumed.close()
        body = server.requests[0].body
    assert body["input"] == after
