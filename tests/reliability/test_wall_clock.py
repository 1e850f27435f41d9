"""Nothing hangs without an end: `lever exec` has a wall-time limit by default (raised by the
person), and the wait for a reply's headers is bounded."""

from __future__ import annotations

import pytest

from lever.config.values import DEFAULT_EXEC_SECONDS
from lever.protocol import SessionStarted
from lever.testing.fake_model import FakeModelServer

from .conftest import run_exec

DONE = {"text": "All done."}
STALL = {"text": "thinking about it", "fault": "stall"}


def limits(run) -> dict:
    started = run.events[0]
    assert isinstance(started, SessionStarted)
    return started.limits


def test_exec_has_a_wall_time_limit_by_default(env, work) -> None:
    with FakeModelServer([DONE]) as server:
        run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    assert limits(run)["max_seconds"] == DEFAULT_EXEC_SECONDS


@pytest.mark.parametrize(
    "setting", [("--timeout", "50000"), ("-c", "limits.max_seconds=50000")], ids=["flag", "config"]
)
def test_the_person_raises_the_wall_time_limit(setting, env, work) -> None:
    with FakeModelServer([DONE]) as server:
        run = run_exec(server.base_url, env, work, *setting)
    assert run.code == 0, run.stderr
    assert limits(run)["max_seconds"] == 50000


def test_wall_time_limit_ends_a_stream_that_keeps_the_connection_busy(env, work) -> None:
    # Idle timeout far away and keep-alives flowing: only the wall-time limit can end this run.
    with FakeModelServer([STALL]) as server:
        run = run_exec(
            server.base_url, env, work, "-c", "stream_idle_timeout=600", "-c",
            "limits.max_seconds=2",
        )  # fmt: skip
    assert run.code == 3, run.stderr
    assert "time limit reached" in run.stderr
    assert run.events[-2].type == "turn_finished" and run.events[-2].reason == "limit"
    assert run.seconds < 20


def test_reply_headers_that_never_come_end_at_their_timeout(env, work) -> None:
    # Before: only httpx's per-read timeout (600 s) bounded this wait.
    silent = {"text": "late", "delay_ms": 60_000}
    with FakeModelServer([silent, silent]) as server:
        run = run_exec(
            server.base_url, env, work, "-c", "stream_headers_timeout=1", "-c",
            "retry.max_retries=1",
        )  # fmt: skip
    assert run.code == 1
    assert "no reply within 1 s (stream_headers_timeout)" in run.stderr
    assert run.seconds < 20


def test_slow_headers_within_the_timeout_are_waited_for(env, work) -> None:
    slow = {"text": "All done.", "delay_ms": 500}
    with FakeModelServer([slow]) as server:
        run = run_exec(server.base_url, env, work, "-c", "stream_headers_timeout=5")
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("All done.\n")
