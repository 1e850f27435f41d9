"""Helpers of the fault suite: run the installed `lever` against a faulty model, then check that
it ended as expected, left a rollout that parses, and left no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lever.protocol import Event, SessionEnded
from lever.store.rollout import read_rollout
from lever.testing.isolated_env import isolated_env, lever_bin

#: Short limits so a fault is noticed in a test's time, not a person's.
FAST = ("-c", "retry.base_delay=0.05", "-c", "stream_idle_timeout=1")
WIRES = ("openai-responses", "openai-chat", "anthropic")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    events: list[Event]

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]


def rollouts(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["LEVER_HOME"]).glob("sessions/*/*/*/rollout-*.jsonl"))


def check_rollout(path: Path) -> list[Event]:
    """Every line parses, in sequence, and the session was closed."""
    events = list(read_rollout(path))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "lost or reordered events"
    assert isinstance(events[-1], SessionEnded), f"no end record: {events[-1]!r}"
    return events


def assert_group_gone(pgid: int) -> None:
    """No process of the run's process group is left (children included)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"processes of group {pgid} outlived lever"
        time.sleep(0.05)


def run_lever(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`lever ARGS` in its own process group; asserts nothing of it is left afterwards."""
    process = subprocess.Popen(
        [lever_bin(), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"lever {' '.join(args)} hung for {timeout} s:\n{stderr[-2000:]}")
    assert_group_gone(process.pid)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_exec(
    base_url: str,
    env: dict[str, str],
    cwd: Path,
    *extra: str,
    wire: str = "openai-responses",
    prompt: str = "go",
    timeout: float = 60,
) -> Run:
    """`lever exec` against the fake model; the rollout checked and parsed."""
    started = time.monotonic()
    result = run_lever(
        "exec",
        "--provider",
        wire,
        "--base-url",
        base_url,
        "--model",
        "m",
        *FAST,
        *extra,
        prompt,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr
    (path,) = rollouts(env)
    events = check_rollout(path)
    return Run(result.returncode, result.stdout, result.stderr, seconds, events)


def errors(run: Run) -> list[dict[str, Any]]:
    return [e.model_dump() for e in run.events if e.type == "error"]
