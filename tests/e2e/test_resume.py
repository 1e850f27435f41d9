"""`lever resume` and `lever fork` on real rollouts; SIGKILL at random points, then resume."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lever.protocol import Compaction, ItemAdded, SessionStarted, ToolOutput, TurnFinished
from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import lever_bin, run_lever

STEP = {"tool_calls": [{"name": "shell", "arguments": {"command": ["sleep", "0.2"]}}]}
FINAL = {"text": "All steps done."}


def rollouts(home: Path) -> list[Path]:
    return sorted(home.glob("sessions/*/*/*/rollout-*.jsonl"))


def check_rollout(path: Path) -> list:
    events = list(read_rollout(path))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "lost or duplicated events"
    calls = [
        e.item.call_id for e in events if isinstance(e, ItemAdded) and e.item.type == "tool_call"
    ]
    outputs = [
        e.item.call_id
        for e in events
        if isinstance(e, ItemAdded) and isinstance(e.item, ToolOutput)
    ]
    assert sorted(calls) == sorted(outputs) and len(set(outputs)) == len(outputs)
    return events


def test_resume_continues_a_finished_session_with_a_prompt(
    clean_env, math_repo, lever_home
) -> None:
    with FakeModelServer([{"text": "first"}, {"text": "second"}]) as server:
        first = run_lever(
            "exec",
            "--base-url",
            server.base_url,
            "--model",
            "m",
            "one",
            env=clean_env,
            cwd=math_repo,
        )
        assert first.returncode == 0, first.stderr
        again = run_lever("resume", "--last", "two", env=clean_env, cwd=math_repo)
        assert again.returncode == 0, again.stderr
        assert again.stdout == "second\n"
        second_body = server.requests[1].body
    contents = [m["content"] for m in second_body["messages"] if m["role"] != "system"]
    assert contents[1:] == ["one", "first", "two"]
    (path,) = rollouts(lever_home)
    events = check_rollout(path)
    assert sum(isinstance(e, SessionStarted) for e in events) == 2


def test_resume_without_prompt_or_open_turn_is_a_usage_error(clean_env, math_repo) -> None:
    with FakeModelServer([{"text": "done"}]) as server:
        run_lever(
            "exec", "--base-url", server.base_url, "--model", "m", "x", env=clean_env, cwd=math_repo
        )
    result = run_lever("resume", "--last", env=clean_env, cwd=math_repo)
    assert result.returncode == 2 and "no unfinished turn" in result.stderr


def test_fork_starts_a_new_self_contained_session(clean_env, math_repo, lever_home) -> None:
    with FakeModelServer([{"text": "a1"}, {"text": "b1"}, {"text": "forked answer"}]) as server:
        run_lever(
            "exec",
            "--base-url",
            server.base_url,
            "--model",
            "m",
            "first",
            env=clean_env,
            cwd=math_repo,
        )
        (original,) = rollouts(lever_home)
        session_id = original.stem.removeprefix("rollout-")
        run_lever("resume", session_id, "second", env=clean_env, cwd=math_repo)
        first_turn_end = next(e.seq for e in read_rollout(original) if isinstance(e, TurnFinished))
        result = run_lever(
            "fork",
            session_id[:18],
            "--at",
            str(first_turn_end),
            "other",
            env=clean_env,
            cwd=math_repo,
        )
        assert result.returncode == 0, result.stderr
        body = server.requests[2].body
    contents = [m["content"] for m in body["messages"] if m["role"] not in ("system",)]
    assert contents[1:] == ["first", "a1", "other"]  # the second turn is not in the fork
    fork = next(p for p in rollouts(lever_home) if p != original)
    events = check_rollout(fork)
    assert isinstance(events[1], Compaction) and session_id in events[1].summary
    assert events[1].summary.endswith(f"at event {first_turn_end}")


@pytest.mark.parametrize("batch", range(4))
def test_sigkill_at_random_points_then_resume_finishes(
    batch, clean_env, math_repo, lever_home
) -> None:
    rng = random.Random(batch)
    for run in range(5):
        home = lever_home / f"run{run}"
        home.mkdir()
        env = {**clean_env, "LEVER_HOME": str(home)}
        with FakeModelServer([STEP] * 12 + [FINAL]) as server:
            process = subprocess.Popen(
                [lever_bin(), "exec", "--base-url", server.base_url, "--model", "m", "go"],
                env=env,
                cwd=math_repo,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 10
            while not rollouts(home) or rollouts(home)[0].read_text().count("\n") < 3:
                assert time.monotonic() < deadline, "lever exec never wrote its rollout"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            assert process.poll() is None, "lever exec ended before it could be killed"
            process.send_signal(signal.SIGKILL)
            process.communicate()
            (path,) = rollouts(home)
            killed_events = len(path.read_text().splitlines())
            result = run_lever("resume", "--last", env=env, cwd=math_repo)
            assert result.returncode == 0, result.stderr
            assert result.stdout == "All steps done.\n"
        events = check_rollout(path)
        assert len(events) >= killed_events - 1  # at most a torn last line was dropped
        assert isinstance(events[-1].model_dump(), dict) and events[-1].type == "session_ended"
        assert json.loads(path.read_text().splitlines()[-1])["reason"] == "done"
