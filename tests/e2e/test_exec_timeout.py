"""`lever exec --timeout` stops a command that is still running, with the limit's exit code."""

from __future__ import annotations

import time
from pathlib import Path

from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever


def test_timeout_stops_a_running_command_with_exit_code_3(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    call = {"name": "shell", "arguments": {"command": "sleep 30", "yield_ms": 60000}}
    with FakeModelServer([{"tool_calls": [call]}, {"text": "never asked"}]) as server:
        started = time.monotonic()
        result = run_lever(
            "exec",
            "--provider",
            "openai-chat",
            "--base-url",
            server.base_url,
            "--model",
            "fake-model",
            "--sandbox",
            "danger-full-access",
            "--timeout",
            "2",
            "wait for it",
            env=clean_env,
            cwd=work,
        )
        took = time.monotonic() - started
        assert server.turns_left == 1
    assert result.returncode == 3, result.stderr
    assert "time limit reached" in result.stderr
    assert took < 15, took
