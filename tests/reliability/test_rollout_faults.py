"""Damaged, truncated and killed-mid-write rollouts: `lever resume` recovers up to the last good
event, or refuses with a one-line reason (exit 2) — never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import assert_group_gone, check_rollout, lever_bin, rollouts, run_exec, run_lever

SHELL = {"tool_calls": [{"name": "shell", "arguments": {"command": ["echo", "hi"]}}]}


def finished_session(env: dict[str, str], work: Path, server: FakeModelServer) -> Path:
    run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    (path,) = rollouts(env)
    return path


def resume(env: dict[str, str], work: Path, *words: str):
    return run_lever("resume", "--last", *words, env=env, cwd=work)


def test_torn_last_line_is_dropped_and_the_session_goes_on(env, work) -> None:
    with FakeModelServer([SHELL, {"text": "one"}, {"text": "two"}]) as server:
        path = finished_session(env, work, server)
        lines = path.read_text().splitlines(keepends=True)
        intact = len(lines) - 1
        path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
        result = resume(env, work, "again")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "two\n"
    events = check_rollout(path)
    assert len(events) > intact  # every intact event kept, the new turn appended after them


@pytest.mark.parametrize(
    "damage",
    [
        b"{garbage\n",
        b'{"type": "no_such_event", "seq": 2}\n',
        b"\xff\xfe\x00\n",
        b"[" * 5000 + b"\n",
    ],
    ids=["not json", "unknown event", "not utf-8", "nested too deep"],
)
def test_damaged_middle_line_is_refused_clearly(damage, env, work) -> None:
    with FakeModelServer([SHELL, {"text": "one"}, {"text": "two"}]) as server:
        path = finished_session(env, work, server)
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(lines[0] + damage + b"".join(lines[1:]))
        result = resume(env, work, "again")
        assert server.turns_left == 1  # nothing was sent to the model
    assert result.returncode == 2, result.stderr
    assert "line 2 of" in result.stderr and "is damaged" in result.stderr
    assert "1 events before it are intact" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("content", [b"", b"\n\n", b"half a line"], ids=["empty", "blank", "torn"])
def test_rollout_without_a_single_event_is_refused(content, env, work) -> None:
    with FakeModelServer([{"text": "one"}, {"text": "two"}]) as server:
        path = finished_session(env, work, server)
        path.write_bytes(content)
        result = resume(env, work, "again")
    assert result.returncode == 2
    assert "the rollout is empty" in result.stderr and "Traceback" not in result.stderr


def test_sigkill_mid_stream_then_resume_loses_nothing_flushed(env, work) -> None:
    # The kill lands while the model is still streaming (a stalled reply), after a tool ran.
    stall = {"text": "still going", "fault": "stall"}
    with FakeModelServer([SHELL, stall, {"text": "finished"}]) as server:
        process = subprocess.Popen(
            [lever_bin(), "exec", "--base-url", server.base_url, "--model", "m", "go"],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while server.turns_used < 2 or not rollouts(env):
            assert time.monotonic() < deadline, "lever never reached the stalled stream"
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert_group_gone(process.pid)
        (path,) = rollouts(env)
        flushed = path.read_text().splitlines()
        result = resume(env, work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("finished\n")
    events = check_rollout(path)
    kept = path.read_text().splitlines()
    assert kept[: len(flushed) - 1] == flushed[:-1]  # at most a torn last line was dropped
    assert any(e.type == "tool_finished" for e in events)


def test_line_separators_in_model_text_keep_the_rollout_readable(env, work) -> None:
    # Found by fuzzing: JSON leaves U+2028/U+2029/U+0085 unescaped, and `str.splitlines` broke
    # the rollout's lines there: the session could no longer be resumed.
    odd = "first\u2028second\u2029third\x85fourth\x1cfifth"
    with FakeModelServer([{"text": odd}, {"text": "again"}]) as server:
        path = finished_session(env, work, server)
        result = resume(env, work, "more")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "again\n"
    events = check_rollout(path)
    assert any(getattr(e, "last_message", "") == odd for e in events)
