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

from lever.agent.budget import TokenBudget, context_window_for
from lever.agent.harness_messages import harness_message
from lever.agent.overflow import learn, shrink
from lever.agent.resume import replay
from lever.assembly import budget_from
from lever.config.providers import resolve_model
from lever.models.base import ContextLengthError
from lever.models.http import classify_error
from lever.protocol import Compaction, ErrorEvent, ToolCall, ToolOutput, UserMessage
from lever.protocol.items import Item
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


@pytest.mark.parametrize("wire", WIRES)
async def test_a_task_larger_than_the_servers_window_is_cut_and_done(tmp_path, wire) -> None:
    summaries: list[int] = []
    task = "start " + "t" * 60_000 + " finish"  # 15,000 tokens against a 6,000-token server
    with enforcing(2, summaries) as server:
        session = make(server, tmp_path, tmp_path / "r.jsonl", wire, window=TOLD)
        session.start()
        finished = await session.run_turn(task)
        await session.close()
        requests = server.requests
    assert finished.reason == "done", finished
    refused = [r for r in requests if r.rejected == "context_limit"]
    assert len(refused) == 1 and requests[-1].status == 200
    sent = json.dumps(requests[-1].body)
    assert "start ttt" in sent and "ttt finish" in sent and "cut to fit the context window" in sent


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


# --------------------------------------------------------------------------- the parts


@pytest.mark.parametrize(
    ("message", "limit", "requested"),
    [
        ("prompt is too long: 210000 tokens > 200000 maximum", 200_000, 210_000),
        (
            "request (9000 tokens) exceeds the available context size (8192 tokens), "
            "try increasing it",
            8192,
            9000,
        ),
        (
            "This model's maximum context length is 8192 tokens. However, you requested 9000 "
            "tokens (8000 in the messages, 1000 in the completion). Please reduce the length "
            "of the messages or completion.",
            8192,
            8000,
        ),
        (
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130,001 tokens. Please reduce the length of the messages.",
            128_000,
            130_001,
        ),
        (
            "This model's maximum context length is 4096 tokens. However, your request has 5000 "
            "input tokens. Please reduce the length of the input messages.",
            4096,
            5000,
        ),
        (
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576).",
            1_048_576,
            1_200_000,
        ),
        (
            "Your input exceeds the context window of this model. Please adjust your input "
            "and try again.",
            None,
            None,
        ),
    ],
)
def test_the_limit_is_read_from_each_providers_message(message, limit, requested) -> None:
    error = classify_error(message, "context_length_exceeded", 400)
    assert isinstance(error, ContextLengthError)
    assert (error.limit, error.requested) == (limit, requested)


def test_learning_without_a_stated_limit_takes_90_percent_of_the_refused_size() -> None:
    budget = TokenBudget(100_000)
    error = ContextLengthError("Your input exceeds the context window of this model.")
    assert learn(budget, error, request_bytes=40_000) == 9_000  # 10,000 tokens were refused
    assert learn(budget, error, request_bytes=4_000) == 9_000  # one error teaches once
    stated = ContextLengthError("too long", limit=6_000, requested=7_000)
    assert learn(budget, stated, request_bytes=35_000) == 6_000
    assert budget.bytes_per_token == 5.0  # calibrated on the provider's own count


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-5.1-codex", 272_000),
        ("openai/gpt-5-mini", 272_000),
        ("gpt-5-chat-latest", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("claude-sonnet-4-5", 200_000),
        ("qwen3-coder-30b", 262_144),
        ("qwen2.5-coder-7b", 32_768),
        ("some-new-model", 128_000),
    ],
)
def test_windows_come_from_the_table(model, window) -> None:
    assert context_window_for(model) == window
    assert context_window_for(model, 50_000) == 50_000  # config wins


def test_a_hosted_providers_preset_does_not_override_the_models_window() -> None:
    config = {"provider": "openai"}
    env = {"OPENAI_API_KEY": "sk-x"}
    assert budget_from(config, resolve_model(config, env=env)).context_window == 272_000
    gpt41 = resolve_model(config, model="gpt-4.1", env=env)
    assert budget_from(config, gpt41).context_window == 1_047_576
    windowed = {**config, "context_window": 90_000}
    assert budget_from(windowed, resolve_model(windowed, env=env)).context_window == 90_000


def test_shrink_keeps_the_prefix_and_pairs_and_says_what_went(tmp_path) -> None:
    prefix = [harness_message("environment_context", "e" * 5_000)]
    task = UserMessage(text="the task")
    history: list[Item] = [*prefix, task]
    for n in range(6):
        call = ToolCall(call_id=f"c{n}", name="shell", arguments="{}")
        history += [call, ToolOutput(call_id=f"c{n}", output=f"{n}" * 4_000)]
    saved: list[str] = []

    def save(output: ToolOutput) -> str:
        saved.append(output.call_id)
        return f"/tmp/{output.call_id}.txt"

    mild = shrink(history, 22_000, save)
    assert mild[:2] == [*prefix, task] and len(mild) == len(history)
    outputs = [i for i in mild if isinstance(i, ToolOutput)]
    assert outputs[0].output == (
        "[output dropped to fit the context window: 4000 bytes; full output in /tmp/c0.txt]"
    )
    assert saved == [o.call_id for o in outputs if o.output.startswith("[output dropped")]
    assert outputs[-1].output == "5" * 4_000  # the newest stays whole

    hard = shrink(history, 6_000)
    assert hard[:2] == [*prefix, task]  # never the prefix, always the first task
    assert "earlier items were left out" in hard[2].text  # type: ignore[union-attr]
    calls = {i.call_id for i in hard if isinstance(i, ToolCall)}
    assert calls == {i.call_id for i in hard if isinstance(i, ToolOutput)}
