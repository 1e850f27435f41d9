"""`lever exec` fixes a bug end to end, over each of the three wire protocols."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer
from lever.tools.apply_patch import make_patch

from .conftest import run_lever

FIXED = '''def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b
'''


def fix_script(repo: Path) -> list[dict[str, Any]]:
    patch = make_patch("mathutil.py", (repo / "mathutil.py").read_text(), FIXED)
    return [
        {
            "text": "Let me run the tests.",
            "tool_calls": [
                {"name": "shell", "arguments": {"command": "pytest -q"}, "call_id": "call_test1"}
            ],
        },
        {
            "reasoning": "add subtracts instead of adding.",
            "tool_calls": [
                {"name": "apply_patch", "arguments": {"input": patch}, "call_id": "call_patch"}
            ],
        },
        {
            "tool_calls": [
                {
                    "name": "shell",
                    "arguments": {"command": ["pytest", "-q"]},
                    "call_id": "call_test2",
                }
            ]
        },
        {"text": "Fixed add() in mathutil.py; the test passes."},
    ]


def exec_on(
    server: FakeModelServer,
    *args: str,
    env: dict[str, str],
    cwd: Path,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`lever exec --base-url SERVER --model m ARGS`."""
    return run_lever(
        "exec", "--base-url", server.base_url, "--model", "m", *args, env=env, cwd=cwd, stdin=stdin
    )


def without_cache_marks(value: Any) -> Any:
    """Anthropic's `cache_control` marker moves to the newest block; it is not content."""
    if isinstance(value, dict):
        return {k: without_cache_marks(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_marks(v) for v in value]
    return value


def history_of(wire: str, body: dict[str, Any]) -> list[Any]:
    history = body["input"] if wire == "openai-responses" else body["messages"]
    return list(without_cache_marks(history))


def output_call_ids(wire: str, history: list[Any]) -> list[str]:
    """The call ids that tool outputs in a request's history answer, in order."""
    if wire == "openai-responses":
        return [i["call_id"] for i in history if i.get("type") == "function_call_output"]
    if wire == "openai-chat":
        return [m["tool_call_id"] for m in history if m["role"] == "tool"]
    return [
        block["tool_use_id"]
        for m in history
        if m["role"] == "user" and isinstance(m["content"], list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]


EXPECTED_TOOL_EVENTS = [
    ("tool_started", "call_test1"),
    ("tool_finished", "call_test1"),
    ("tool_started", "call_patch"),
    ("patch_applied", "call_patch"),
    ("tool_finished", "call_patch"),
    ("tool_started", "call_test2"),
    ("tool_finished", "call_test2"),
]


@pytest.mark.parametrize("wire", ["openai-responses", "openai-chat", "anthropic"])
def test_exec_fixes_the_bug(wire, math_repo, clean_env, lever_home) -> None:
    with FakeModelServer(fix_script(math_repo)) as server:
        base_url = server.root_url + "/v1"
        result = run_lever(
            "exec",
            "--json",
            "--provider",
            wire,
            "--base-url",
            base_url,
            "--model",
            "fake-model",
            "-o",
            str(math_repo.parent / "last.txt"),
            "Make the tests pass.",
            env=clean_env,
            cwd=math_repo,
        )
        bodies = [r.body for r in server.requests]

    assert result.returncode == 0, result.stderr
    assert (math_repo / "mathutil.py").read_text() == FIXED
    assert (
        math_repo.parent / "last.txt"
    ).read_text() == "Fixed add() in mathutil.py; the test passes."

    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["type"] == "session_started" and events[-1]["type"] == "session_ended"
    tool_events = [(e["type"], e["call_id"]) for e in events if "call_id" in e]
    assert tool_events == EXPECTED_TOOL_EVENTS
    finished = {e["call_id"]: e for e in events if e["type"] == "tool_finished"}
    assert (
        finished["call_test1"]["exit_code"] == 1
        and "1 failed" in finished["call_test1"]["full_output"]
    )
    assert (
        finished["call_test2"]["exit_code"] == 0
        and "1 passed" in finished["call_test2"]["full_output"]
    )
    patched = next(e for e in events if e["type"] == "patch_applied")
    assert patched["files"] == ["mathutil.py"] and "+    return a + b" in patched["diff"]
    turn = next(e for e in events if e["type"] == "turn_finished")
    assert turn["reason"] == "done" and turn["last_message"].startswith("Fixed add()")
    assert sum(e["type"] == "token_usage" for e in events) == 4

    # The rollout is the same stream, written by the same serializer.
    (rollout,) = lever_home.glob("sessions/*/*/*/rollout-*.jsonl")
    assert [e.model_dump(exclude_none=True) for e in read_rollout(rollout)] == events

    # What the server received: four requests, each history extending the previous one.
    assert len(bodies) == 4
    for earlier, later in itertools.pairwise(bodies):
        before, after = history_of(wire, earlier), history_of(wire, later)
        assert after[: len(before)] == before
        assert len(after) > len(before)
    assert output_call_ids(wire, history_of(wire, bodies[-1])) == [
        "call_test1",
        "call_patch",
        "call_test2",
    ]
    assert all(body["model"] == "fake-model" and body["stream"] is True for body in bodies)


def test_exec_without_a_model_explains_how_to_configure_one(clean_env, math_repo) -> None:
    result = run_lever("exec", "fix it", env=clean_env, cwd=math_repo)
    assert result.returncode == 2
    assert "No model is configured" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr and "--base-url" in result.stderr
    assert "lever demo" in result.stderr
    assert result.stdout == ""


def test_exec_reads_the_task_from_stdin(clean_env, math_repo) -> None:
    with FakeModelServer([{"text": "Nothing to do."}]) as server:
        result = exec_on(server, "-", env=clean_env, cwd=math_repo, stdin="say hello\n")
        body = server.requests[0].body
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Nothing to do.\n"
    assert body["messages"][-1] == {"role": "user", "content": "say hello"}


def test_exec_401_is_a_clear_error(clean_env, math_repo) -> None:
    clean_env["FAKE_KEY"] = "wrong"
    with FakeModelServer([{"text": "unused"}], api_key="right") as server:
        result = exec_on(
            server,
            *("--provider", "openai-chat", "--api-key-env", "FAKE_KEY", "task"),
            env=clean_env,
            cwd=math_repo,
        )
    assert result.returncode == 5, result.stderr
    assert "401" in result.stderr and "FAKE_KEY" in result.stderr
    assert result.stdout == ""


def test_exec_turn_limit_exits_3(clean_env, math_repo) -> None:
    loop = {"tool_calls": [{"name": "shell", "arguments": {"command": "true"}}]}
    with FakeModelServer([loop, loop, loop]) as server:
        result = exec_on(server, "--max-turns", "2", "go", env=clean_env, cwd=math_repo)
        assert len(server.requests) == 2
    assert result.returncode == 3
    assert "turn limit reached" in result.stderr


def test_agents_md_and_skills_reach_the_model_after_the_environment(
    clean_env, math_repo, lever_home
) -> None:
    (math_repo / "AGENTS.md").write_text("Run tests with `pytest -q`.\n")
    skill = lever_home / "skills" / "bisect"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: bisect\ndescription: find a bad commit\n---\n")
    with FakeModelServer([{"text": "ok"}]) as server:
        result = exec_on(server, "task", env=clean_env, cwd=math_repo)
        messages = server.requests[0].body["messages"]
    assert result.returncode == 0, result.stderr
    texts = [m["content"] for m in messages]
    assert texts[1].startswith("<environment_context>")
    assert texts[2].startswith("<project_docs>") and "Run tests with `pytest -q`." in texts[2]
    assert texts[3].startswith("<skills>") and "- bisect: find a bad commit" in texts[3]
    assert texts[4] == "task"
