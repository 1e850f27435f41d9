"""Failure classes of attempts that did not pass: grade_failed, timeout, agent_error,
model_api_error, sandbox_denial, setup_error — from how the agent ended and how the grade ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lever.cli.main import main
from lever.evals.actors import AgentRun
from lever.evals.attempts import agent_outcome, grade_outcome, lever_run
from lever.evals.workspace import CommandResult
from lever.fleet.attempt import AttemptResult
from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever, write_task

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(
    ("run", "outcome"),
    [
        (AgentRun(0), None),  # finished: the grade decides
        (AgentRun(3, lever_codes=True), "timeout"),  # a turn, token or time limit
        (AgentRun(5, lever_codes=True), "model_api_error"),  # credentials refused
        (AgentRun(6, lever_codes=True), "sandbox_denial"),  # no sandbox could confine it
        (AgentRun(1, lever_codes=True, api_error=True), "model_api_error"),  # HTTP error
        (AgentRun(1, lever_codes=True), "agent_error"),
        (AgentRun(4, lever_codes=True), "agent_error"),  # context exhausted
        (AgentRun(3), "agent_error"),  # an external agent's 3 is not lever's "limit"
        (AgentRun(None, timed_out=True), "timeout"),
        (AgentRun(None, crashed=True), "agent_error"),
    ],
)
def test_the_agents_end_gives_the_class(run: AgentRun, outcome: str | None) -> None:
    assert agent_outcome(run) == outcome


def test_the_grades_end_gives_the_class() -> None:
    assert grade_outcome([CommandResult("pytest", 1, "1 failed", 1.0)]) == "grade_failed"
    assert grade_outcome([CommandResult("pytest", None, "", 9.0)]) == "timeout"
    denied = CommandResult("touch /x", 1, "touch: cannot touch '/x': Read-only file system", 0.1)
    assert grade_outcome([denied]) == "sandbox_denial"


def test_a_fleet_attempt_that_crashed_is_an_agent_error() -> None:
    run = lever_run(AttemptResult("t", 0, "error", error="OSError: disk full"), None)
    assert run.crashed and agent_outcome(run) == "agent_error" and "disk full" in run.detail


def test_a_rollout_with_an_http_error_is_a_model_api_error(tmp_path: Path) -> None:
    rollout = tmp_path / "rollout.jsonl"
    events = [
        {"type": "token_usage", "input_tokens": 120, "output_tokens": 8},
        {"type": "error", "kind": "http_503", "message": "overloaded"},
    ]
    rollout.write_text("".join(json.dumps(e) + "\n" for e in events))
    result = AttemptResult("t", 0, "failed", reason="error", detail="x", rollout=str(rollout))
    run = lever_run(result, 1)
    assert (run.input_tokens, run.output_tokens) == (120, 8)
    assert agent_outcome(run) == "model_api_error"


def test_setup_failures_and_grade_timeouts_end_to_end(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "suite"
    write_task(suite / "bad-setup", 'id = "bad-setup"\ninstruction = "x"\nsetup = ["exit 4"]\n'
               'grade = ["true"]\n')  # fmt: skip
    write_task(suite / "slow-grade", 'id = "slow-grade"\ninstruction = "x"\ntimeout = 1\n'
               'grade = ["sleep 20"]\n')  # fmt: skip
    out = tmp_path / "r.json"
    assert main(["eval", "run", str(suite), "--empty", "-k", "2", "-q", "-o", str(out)]) == 0
    attempts = json.loads(out.read_text())["attempts"]
    assert {(a["task_id"], a["outcome"]) for a in attempts} == {
        ("bad-setup", "setup_error"),
        ("slow-grade", "timeout"),
    }
    assert all(a["setup"][0]["exit_code"] == 4 for a in attempts if a["task_id"] == "bad-setup")
    assert json.loads(out.read_text())["summary"]["failures"]["setup_error"] == 2


def test_lever_stopped_at_its_turn_limit_is_a_timeout(tmp_path: Path, eval_env) -> None:
    """The model keeps running commands; --max-turns 2 stops the session (exit 3): timeout."""
    suite = write_task(tmp_path / "t", 'id = "t"\ninstruction = "x"\ngrade = ["test -f done"]\n')
    call = {"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]}
    out = tmp_path / "r.json"
    with FakeModelServer(responder=lambda body: call) as server:
        result = run_lever(
            "eval", "run", str(suite), "--max-turns", "2", "--provider", "openai-responses",
            "--base-url", server.root_url + "/v1", "--model", "fake", "-o", str(out), "-q",
            env=eval_env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (attempt,) = json.loads(out.read_text())["attempts"]
    assert attempt["outcome"] == "timeout" and attempt["agent_exit"] == 3
    assert attempt["turns"] == 2 and "limit" in attempt["detail"]
    assert attempt["cost_usd"] is None  # no price known for this provider
