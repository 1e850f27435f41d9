"""Overflow recovery against a server that enforces its limit on every request (issue 13.1).

The fake server refuses each request over `LIMIT` tokens with the provider's own
context-length error; lever is told a window ten times larger. The run must finish, learn the
real limit from the first refusal, and send nothing too long after that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lever.agent.budget import TokenBudget
from lever.agent.resume import replay
from lever.protocol import Compaction, ErrorEvent
from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import WIRES
from .test_compaction import TASK, make, script, summary_responder

LIMIT = 6_000  # tokens (request bytes / 4) the server accepts
TOLD = 60_000  # what lever is told


def enforcing(steps: int, summaries: list[int], **options: Any) -> FakeModelServer:
    return FakeModelServer(
        script(steps), responder=summary_responder(summaries), context_limit=LIMIT, **options
    )


@pytest.mark.parametrize("wire", WIRES)
async def test_a_server_that_refuses_every_long_request_is_survived(tmp_path, wire) -> None:
    summaries: list[int] = []
    rollout = tmp_path / "rollout.jsonl"
    with enforcing(30, summaries) as server:
        session = make(server, tmp_path, rollout, wire, window=TOLD)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
        requests = server.requests

    assert finished.reason == "done" and finished.last_message == "All blocks printed.", finished
    refused = [i for i, r in enumerate(requests) if r.rejected == "context_limit"]
    # One refusal teaches the limit; every later request fits, compactions come in time.
    assert len(refused) == 1, [(r.status, len(r.raw)) for r in requests]
    assert all(r.status == 200 for r in requests[refused[0] + 1 :])
    assert len(summaries) >= 3
    assert all(len(r.raw) // 4 <= LIMIT for r in requests[refused[0] + 1 :])
    learned = session.budget.context_window
    if wire == "openai-responses":  # its error does not say the limit: 90% of what was refused
        assert learned <= LIMIT
    else:
        assert learned == LIMIT  # "maximum context length is 6000" / "… > 6000 maximum"

    events = list(read_rollout(rollout))
    overflow = [e for e in events if isinstance(e, ErrorEvent) and e.kind == "context_overflow"]
    assert len(overflow) == 1 and overflow[0].retrying
    compactions = [e for e in events if isinstance(e, Compaction)]
    assert compactions and all(c.context_window == learned for c in compactions)


async def test_the_learned_window_survives_a_resume(tmp_path) -> None:
    summaries: list[int] = []
    rollout = tmp_path / "rollout.jsonl"
    with enforcing(12, summaries, limit_style="vllm") as server:
        session = make(server, tmp_path, rollout, "openai-chat", window=TOLD)
        session.start()
        await session.run_turn(TASK)
        await session.close()
    replayed = replay(read_rollout(rollout))
    assert replayed.context_window == LIMIT
    with FakeModelServer([{"text": "resumed"}], context_limit=LIMIT) as server:
        resumed = make(server, tmp_path, tmp_path / "resumed.jsonl", window=TOLD)
        resumed.restore(replayed)
        assert resumed.budget.context_window == LIMIT
        await resumed.run_turn("and now?")
        await resumed.close()


async def test_the_summary_request_drops_the_oldest_outputs_to_fit(tmp_path) -> None:
    """The compaction's own request is shrunk: old outputs become markers naming a file."""
    summaries: list[int] = []
    rollout = tmp_path / "rollout.jsonl"
    with enforcing(14, summaries, limit_style="llama.cpp") as server:
        session = make(server, tmp_path, rollout, "openai-chat", window=TOLD)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
        bodies = [r.body for r in server.requests if r.status == 200]
    assert finished.reason == "done"
    summary = next(b for b in bodies if "context window is nearly full" in json.dumps(b))
    tools = [m["content"] for m in summary["messages"] if m["role"] == "tool"]
    dropped = [t for t in tools if t.startswith("[output dropped to fit the context window")]
    assert dropped and tools[1] in dropped and "x" * 3000 in tools[-1]  # oldest first
    where = dropped[0].rsplit("full output in ", 1)[1].rstrip("]")
    assert "x" * 3000 in Path(where).read_text()  # where the marker says
    assert summary["messages"][:3] == bodies[0]["messages"][:3]  # system, environment, task


async def test_a_window_too_small_for_the_prefix_ends_with_a_context_error(tmp_path) -> None:
    summaries: list[int] = []
    with FakeModelServer(
        script(3), responder=summary_responder(summaries), context_limit=500
    ) as server:
        session = make(server, tmp_path, tmp_path / "r.jsonl", window=TOLD)
        session.start()
        finished = await session.run_turn(TASK)
        await session.close()
        requests = server.requests
    assert finished.reason == "error" and finished.detail.startswith("context:")
    assert "context exhausted" in finished.detail or "after compaction" in finished.detail
    assert len(requests) <= 20 and not summaries  # bounded, and nothing fitted
    assert all(r.rejected == "context_limit" for r in requests)


def test_the_budget_learns_a_smaller_window_and_its_reserve() -> None:
    budget = TokenBudget(400_000)
    assert budget.output_reserve == 16_384
    budget.learn(12_000)
    assert (budget.context_window, budget.output_reserve, budget.learned_window) == (
        12_000,
        1_500,
        12_000,
    )
