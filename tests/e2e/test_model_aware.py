"""Model-aware requests end to end: `lever exec` against the fake model on each wire.

A reasoning model gets the reasoning parameters and its reasoning back in the next request
(Responses: the encrypted item; Anthropic: the signed thinking block), the summary reaches
`exec --json` and the rollout and survives a resume; gpt-5 gets the freeform apply_patch and
its raw-text call edits a file; a model lever knows nothing of gets none of these fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer
from lever.testing.fake_wire import encrypted_reasoning, thinking_signature
from lever.tools.apply_patch import make_patch
from tests.models.test_schemas import responses_problems

from .conftest import run_lever

THOUGHT = "add subtracts; swap the sign."
FIXED = '''def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b
'''


def patch_script(repo: Path) -> list[dict[str, Any]]:
    patch = make_patch("mathutil.py", (repo / "mathutil.py").read_text(), FIXED)
    call = {"name": "apply_patch", "arguments": {"input": patch}, "call_id": "call_patch"}
    return [
        {"reasoning": THOUGHT, "tool_calls": [call]},
        {"text": "Fixed."},
        {"text": "Still fixed."},
    ]


def exec_json(server: FakeModelServer, wire: str, model: str, repo: Path, env: Any, *more: str):
    args = ["exec", "--json", "--provider", wire, "--base-url", server.root_url + "/v1"]
    result = run_lever(*args, "--model", model, *more, "Fix add.", env=env, cwd=repo)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def reasoning_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "item" and e["item"]["type"] == "reasoning"]


def test_gpt5_reasoning_and_freeform_patch_over_responses(math_repo, clean_env, lever_home) -> None:
    with FakeModelServer(patch_script(math_repo)) as server:
        events = exec_json(
            server, "openai-responses", "gpt-5", math_repo, clean_env, "--reasoning-effort", "high"
        )
        resumed = run_lever("resume", "--last", "Check again.", env=clean_env, cwd=math_repo)
        bodies = [r.body for r in server.requests]
    assert resumed.returncode == 0, resumed.stderr
    assert (math_repo / "mathutil.py").read_text() == FIXED  # the raw-text call edited the file

    first, second, third = bodies
    # The effort is recorded with the session: the resume (no flag) keeps it.
    assert all(b["reasoning"] == {"effort": "high", "summary": "auto"} for b in bodies)
    patch_tool = next(t for t in first["tools"] if t["name"] == "apply_patch")
    assert patch_tool["type"] == "custom" and patch_tool["format"]["syntax"] == "lark"
    # The encrypted reasoning goes back in order, before the call it preceded; the call goes
    # back as the custom call it was, answered by a custom output.
    kinds = [i["type"] for i in second["input"]]
    assert kinds[-3:] == ["reasoning", "custom_tool_call", "custom_tool_call_output"]
    assert second["input"][-3]["encrypted_content"] == encrypted_reasoning(THOUGHT)
    assert second["input"][-2]["input"].startswith("*** Begin Patch")
    assert "mathutil.py" in second["input"][-1]["output"]
    assert [b for b in bodies if responses_problems(b)] == []
    # After the resume the history still holds them, byte for byte.
    assert third["input"][: len(second["input"])] == second["input"]

    # The summary is an event of exec --json and of the rollout, encrypted content included.
    (shown,) = reasoning_items(events)
    assert shown["summary"] == THOUGHT
    (rollout,) = lever_home.glob("sessions/*/*/*/rollout-*.jsonl")
    kept = [
        e.item for e in read_rollout(rollout) if e.type == "item" and e.item.type == "reasoning"
    ]
    assert [(r.summary, r.encrypted_content) for r in kept] == [
        (THOUGHT, encrypted_reasoning(THOUGHT))
    ]


def test_claude_thinking_blocks_go_back_signed(math_repo, clean_env) -> None:
    with FakeModelServer(patch_script(math_repo)) as server:
        events = exec_json(
            server,
            "anthropic",
            "claude-sonnet-4-5",
            math_repo,
            clean_env,
            "-c",
            'reasoning_effort="low"',
        )
        bodies = [r.body for r in server.requests]
    assert (math_repo / "mathutil.py").read_text() == FIXED
    assert bodies[0]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert bodies[0]["max_tokens"] > 2048
    # The assistant turn with the tool_use starts with the thinking block, signature unchanged.
    assistant = bodies[1]["messages"][-2]
    assert assistant["role"] == "assistant"
    thinking, tool_use = assistant["content"]
    assert thinking == {
        "type": "thinking",
        "thinking": THOUGHT,
        "signature": thinking_signature(THOUGHT),
    }
    assert tool_use["type"] == "tool_use" and "input" in tool_use["input"]
    assert [r["summary"] for r in reasoning_items(events)] == [THOUGHT]


def test_o3_gets_reasoning_effort_over_chat(math_repo, clean_env) -> None:
    with FakeModelServer([{"text": "ok"}]) as server:
        exec_json(server, "openai-chat", "o3", math_repo, clean_env, "--reasoning-effort", "medium")
        body = server.requests[0].body
    assert body["reasoning_effort"] == "medium"


@pytest.mark.parametrize("wire", ["openai-responses", "openai-chat", "anthropic"])
def test_a_model_lever_does_not_know_gets_none_of_it(wire, math_repo, clean_env) -> None:
    with FakeModelServer(patch_script(math_repo)) as server:
        exec_json(server, wire, "fake-model", math_repo, clean_env, "--reasoning-effort", "high")
        bodies = [r.body for r in server.requests]
    assert (math_repo / "mathutil.py").read_text() == FIXED  # the function-tool form works
    for body in bodies:
        assert not {"reasoning", "thinking", "reasoning_effort"} & body.keys()
        kinds = {t.get("type") for t in body.get("tools", [])}
        assert "custom" not in kinds


def test_a_bad_reasoning_value_is_a_one_line_error(math_repo, clean_env) -> None:
    bad = run_lever(
        "exec",
        "-c",
        'reasoning_effort="extreme"',
        "--model",
        "m",
        "task",
        env=clean_env,
        cwd=math_repo,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "reasoning_effort" in bad.stderr
    assert "minimal | low | medium | high" in bad.stderr
    flag = run_lever("exec", "--reasoning-effort", "max", "task", env=clean_env, cwd=math_repo)
    assert flag.returncode == 2 and "invalid choice: 'max'" in flag.stderr
