"""Model-side faults: each ends in a recovery or a clear error with its exit code, never a hang.

Every run also checks (in `run_exec`) that the rollout parses with its end record, that no
traceback was printed and that no process of lever's process group is left."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import WIRES, errors, run_exec

DONE = {"text": "All done."}
LONG_TEXT = "x" * 30_000  # each streamed delta is ~10 KB


def retries(run) -> list[dict]:
    return [e for e in errors(run) if e["retrying"]]


@pytest.mark.parametrize("wire", WIRES)
def test_stalled_stream_with_keep_alives_ends_at_the_idle_timeout(wire, env, work) -> None:
    # Before: keep-alive comments kept the read timeout from ever firing; exec hung forever.
    stall = {"text": "thinking about it", "fault": "stall"}
    with FakeModelServer([stall, stall]) as server:
        run = run_exec(server.base_url, env, work, "-c", "retry.max_retries=1", wire=wire)
    assert run.code == 1
    assert len(retries(run)) == 1  # a stall is retried like any broken stream
    assert "no event for 1 s (stream_idle_timeout)" in run.stderr
    assert run.seconds < 30
    assert run.events[-2].type == "turn_finished" and run.events[-2].reason == "error"


def test_stalled_stream_then_a_good_one_recovers(env, work) -> None:
    stall = {"text": "thinking", "fault": "stall"}
    with FakeModelServer([stall, DONE]) as server:
        run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("All done.\n")
    assert len(retries(run)) == 1


@pytest.mark.parametrize("wire", WIRES)
def test_endless_stream_is_cut_at_the_byte_cap(wire, env, work) -> None:
    endless = {"text": LONG_TEXT, "fault": "endless"}
    with FakeModelServer([endless]) as server:
        run = run_exec(server.base_url, env, work, "-c", "stream_max_bytes=2000000", wire=wire)
        served = len(server.requests)
    assert run.code == 1
    assert "cut off: it passed the 2000000-byte cap" in run.stderr
    assert served == 1  # not retried: it would run away again
    assert run.seconds < 30


def test_retry_after_far_too_long_is_not_waited_out(env, work) -> None:
    # Before: lever slept (capped at 120 s per retry, four retries) instead of saying so.
    quota = {"error": {"status": 429, "message": "quota exceeded", "retry_after": 100000}}
    with FakeModelServer([quota, DONE]) as server:
        run = run_exec(server.base_url, env, work)
        served = len(server.requests)
    assert run.code == 1
    assert "asked to wait 100000 s" in run.stderr and "retry.max_retry_after" in run.stderr
    assert served == 1 and run.seconds < 20


def test_retry_after_limit_is_configurable(env, work) -> None:
    wait = {"error": {"status": 503, "message": "busy", "retry_after": 2}}
    with FakeModelServer([wait, DONE]) as server:
        run = run_exec(server.base_url, env, work, "-c", "retry.max_retry_after=1")
    assert run.code == 1
    assert "asked to wait 2 s" in run.stderr


def test_storm_of_429_with_short_retry_after_recovers(env, work) -> None:
    storm = [{"error": {"status": 429, "message": "slow down", "retry_after": 0.05}}] * 4
    with FakeModelServer([*storm, DONE]) as server:
        run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("All done.\n")
    assert [e["kind"] for e in retries(run)] == ["http_429"] * 4


def test_storm_longer_than_the_retries_ends_with_a_clear_error(env, work) -> None:
    storm = [{"error": {"status": 429, "message": "slow down", "retry_after": 0.05}}] * 3
    with FakeModelServer([*storm, DONE]) as server:
        run = run_exec(server.base_url, env, work, "-c", "retry.max_retries=2")
    assert run.code == 1
    assert "model API error 429" in run.stderr
    assert len(retries(run)) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(status, env, work) -> None:
    failing = {"error": {"status": status, "message": f"upstream {status}"}}
    with FakeModelServer([failing, failing, DONE]) as server:
        run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    assert [e["kind"] for e in retries(run)] == [f"http_{status}"] * 2


def test_connection_refused_is_a_clear_error(env, work) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = run_exec(f"http://127.0.0.1:{port}/v1", env, work, "-c", "retry.max_retries=1")
    assert run.code == 1
    assert "connection to the model API failed" in run.stderr
    assert len(retries(run)) == 1


@pytest.mark.parametrize("wire", WIRES)
def test_stream_cut_mid_event_is_retried(wire, env, work) -> None:
    cut = {"text": "half an answer that never ends", "drop_after": 3}
    with FakeModelServer([cut, DONE]) as server:
        run = run_exec(server.base_url, env, work, wire=wire)
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("All done.\n")
    assert len(retries(run)) == 1


MALFORMED = {
    "not json": "data: {this is not json\n\n",
    "not an object": "data: [1, 2, 3]\n\n",
    "nested too deep": "data: " + "[" * 5000 + "]" * 5000 + "\n\n",
    "not an event stream": "<html>502 Bad Gateway</html>",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_stream_is_a_clear_error(name, env, work) -> None:
    bad = {"raw": MALFORMED[name]}
    with FakeModelServer([bad] * 6) as server:
        run = run_exec(server.base_url, env, work, "-c", "retry.max_retries=1")
    assert run.code == 1
    final = errors(run)[-1]["message"]
    assert final.startswith(("model stream sent", "model reply", "expected an event")), final


def test_config_rejects_bad_stream_limits(env, work: Path) -> None:
    from .conftest import run_lever

    for setting in ("stream_idle_timeout=0", "stream_max_bytes=10", "retry.max_retry_after=-1"):
        result = run_lever("exec", "-c", setting, "go", env=env, cwd=work)
        assert result.returncode == 2, (setting, result.stderr)
        assert setting.split("=")[0].split(".")[-1] in result.stderr
        assert "Traceback" not in result.stderr


def test_fake_model_refuses_an_unknown_fault() -> None:
    from lever.testing.fake_model import ScriptError

    with pytest.raises(ScriptError, match="'fault' must be one of"):
        FakeModelServer([{"text": "x", "fault": "explode"}])


def test_in_stream_rate_limit_asking_for_an_hour_is_not_waited_out(env, work) -> None:
    # OpenAI states the wait in the message of an error event inside a started stream.
    event = {
        "type": "error",
        "error": {
            "message": "Rate limit reached. Please try again in 3600s.",
            "code": "rate_limit_exceeded",
        },
    }
    bad = {"raw": f"event: error\ndata: {json.dumps(event)}\n\n"}
    with FakeModelServer([bad, DONE]) as server:
        run = run_exec(server.base_url, env, work)
        served = len(server.requests)
    assert run.code == 1
    assert "asked to wait 3600 s" in run.stderr
    assert served == 1 and run.seconds < 20
