"""Issue 13, must-show 1: `lever exec` outlives a server that enforces its context limit on
every request, as OpenAI does — lever is told a window far larger than the server's, the tool
outputs overflow it several times over, and all 30 steps finish with exit 0, on all three wires.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever

STEPS = 30
LIMIT = 8_000  # tokens (request bytes / 4) the server accepts
TOLD = 100_000  # the window lever is told (config `context_window`)
PLAN = [{"step": "Print the blocks", "status": "in_progress"}]


def step(n: int) -> dict[str, Any]:
    command = f"python3 -c \"print('step {n} ' + 'x' * 4000)\""
    return {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


def script() -> list[dict[str, Any]]:
    plan = {"tool_calls": [{"name": "update_plan", "arguments": {"plan": PLAN}}]}
    # The plan is closed before the answer (an open plan step would earn a nudge to continue).
    done = [{**PLAN[0], "status": "completed"}]
    close = {"tool_calls": [{"name": "update_plan", "arguments": {"plan": done}}]}
    steps = [step(n) for n in range(1, STEPS + 1)]
    return [plan, *steps, close, {"text": "All 30 blocks printed."}]


def answer_summaries(body: dict[str, Any]) -> dict[str, Any] | None:
    last = (body.get("messages") or body.get("input") or [None])[-1]
    if "context window is nearly full" in json.dumps(last):
        return {"text": "SUMMARY: printing blocks one per step; continue with the next one."}
    return None


@pytest.mark.timeout(400)  # 30 sandboxed commands and ~40 requests, on a loaded machine too
@pytest.mark.parametrize("wire", ["openai-responses", "openai-chat", "anthropic"])
def test_exec_finishes_30_steps_against_an_enforcing_server(
    wire: str, tmp_path: Path, clean_env: dict[str, str], lever_home: Path
) -> None:
    # Without spawn_agent's schema: the request sizes (so where the first refusal falls, and the
    # window lever guesses from it, the Responses API stating no limit) are the ones designed.
    (lever_home / "config.toml").write_text(
        f"context_window = {TOLD}\n[subagents]\nenabled = false\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    with FakeModelServer(script(), responder=answer_summaries, context_limit=LIMIT) as server:
        result = run_lever(
            "exec",
            "--json",
            "--provider",
            wire,
            "--base-url",
            server.base_url,
            "--model",
            "fake-model",
            "Print the 30 blocks, one per step.",
            env=clean_env,
            cwd=work,
            timeout=240,
        )
        requests = server.requests

    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    finished = [e for e in events if e["type"] == "tool_finished" and e["name"] == "shell"]
    assert len(finished) == STEPS and all(e["exit_code"] == 0 for e in finished)
    assert events[-2]["type"] == "turn_finished" and events[-2]["reason"] == "done"
    assert events[-2]["last_message"] == "All 30 blocks printed."

    # The outputs overflowed the server's window several times over: compactions kept up.
    compactions = [e for e in events if e["type"] == "compaction"]
    assert len(compactions) >= 3
    total_output = sum(len(e["full_output"]) for e in finished)
    assert total_output > 3 * LIMIT * 4
    # One refusal taught lever the limit; nothing it sent afterwards was too long.
    refused = [i for i, r in enumerate(requests) if r.rejected == "context_limit"]
    assert len(refused) == 1
    assert all(r.status == 200 for r in requests[refused[0] + 1 :])
    learned = {c["context_window"] for c in compactions}
    assert len(learned) == 1 and learned.pop() <= LIMIT
