"""One attempt: make a workspace, let the actor work in it, grade it.

The actor is the reference solution (`oracle`), nothing (`empty`) or an agent: `lever exec` in
a subprocess on the workspace (approval never, the configured sandbox). This module is the
seam where the fleet executor plugs in later: it only needs `run_attempt`'s contract
(a task and an attempt number in, an `AttemptRecord` out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lever.evals.report import AttemptRecord, CommandRecord, Outcome
from lever.evals.tasks import Task
from lever.evals.workspace import (
    CommandResult,
    Grader,
    WorkspaceError,
    apply_patch,
    copy_grade_files,
    make_workspace,
)

#: `lever exec` exit status -> the failure class of an attempt that did not pass.
_EXEC_FAILURES: dict[int, Outcome] = {3: "timeout", 5: "model_api_error", 6: "sandbox_denial"}


class AgentUsageError(WorkspaceError):
    """`lever exec` refused its flags or configuration: the run stops (exit 2), no attempt
    can do better."""


@dataclass
class AgentSpec:
    """How to start the agent: the `lever exec` model flags, passed through as given."""

    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    sandbox: str | None = None
    extra: list[str] = field(default_factory=list)

    def argv(self, task: Task, work: Path) -> list[str]:
        argv = [sys.executable, "-m", "lever.cli.main", "exec", "--json", "-C", str(work)]
        argv += ["-a", "never", "--timeout", str(task.timeout)]
        for flag, value in (
            ("--provider", self.provider),
            ("--model", self.model),
            ("--base-url", self.base_url),
            ("--sandbox", self.sandbox),
        ):
            if value:
                argv += [flag, value]
        return [*argv, *self.extra, "-"]


@dataclass
class AgentRun:
    exit_code: int | None
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    api_error: bool = False
    detail: str = ""


def run_agent(spec: AgentSpec, task: Task, work: Path) -> AgentRun:
    """`lever exec` on the workspace; the task goes in on stdin. Reads its JSON event stream."""
    try:
        done = subprocess.run(
            spec.argv(task, work),
            input=task.instruction,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=task.timeout + 60,  # exec enforces --timeout itself; this is a backstop
            check=False,
        )
    except subprocess.TimeoutExpired:
        return AgentRun(None, detail="lever exec did not stop at its --timeout")
    if done.returncode == 2:
        # A usage error (no model configured, a bad flag) would fail every attempt the same way.
        first = next((line for line in done.stderr.splitlines() if line.strip()), "exit status 2")
        raise AgentUsageError(
            f"the agent cannot start: {first.strip()} (run `lever exec` with the same flags)"
        )
    run = AgentRun(done.returncode)
    for line in done.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("type") == "token_usage":
            run.input_tokens += int(event.get("input_tokens", 0))
            run.output_tokens += int(event.get("output_tokens", 0))
            run.turns += 1
        elif event.get("type") == "error" and str(event.get("kind", "")).startswith(
            ("http_", "stream")
        ):
            run.api_error = True
    if done.returncode != 0:
        run.detail = done.stderr.strip()[-500:]
    return run


def _records(results: list[CommandResult]) -> list[CommandRecord]:
    return [
        CommandRecord(
            command=r.command, exit_code=r.exit_code, seconds=r.seconds, output_tail=r.output
        )
        for r in results
    ]


def _agent_outcome(run: AgentRun) -> Outcome | None:
    """The failure class the agent's own end implies, None if it finished normally."""
    if run.exit_code == 0:
        return None
    if run.exit_code is None:
        return "timeout"
    if run.exit_code in _EXEC_FAILURES:
        return _EXEC_FAILURES[run.exit_code]
    return "model_api_error" if run.api_error else "agent_error"


def _grade_outcome(results: list[CommandResult]) -> Outcome:
    from lever.sandbox.denial import sandbox_denial

    last = results[-1]
    if last.exit_code is None:
        return "timeout"
    if sandbox_denial(last.exit_code, last.output):
        return "sandbox_denial"
    return "grade_failed"


def run_attempt(
    task: Task,
    attempt: int,
    mode: str,
    scratch: Path,
    grader: Grader,
    agent: AgentSpec | None = None,
) -> AttemptRecord:
    """Run and grade one attempt of `task` in a fresh workspace under `scratch`."""
    start = time.monotonic()
    deadline = start + task.timeout
    record = AttemptRecord(task_id=task.id, attempt=attempt, outcome="grade_failed", passed=False)
    work = make_workspace(task, scratch)
    setup = grader.run_all(task.setup, work, deadline)
    record.setup = _records(setup)
    if setup and not setup[-1].ok:
        record.outcome, record.detail = "setup_error", "a setup command failed"
        record.wall_seconds = time.monotonic() - start
        return record
    agent_failure: Outcome | None = None
    if mode == "oracle":
        if task.solution is None:
            raise WorkspaceError(f"task {task.id}: no reference solution (solution.patch)")
        apply_patch(work, task.solution)
    elif mode == "agent":
        assert agent is not None
        run = run_agent(agent, task, work)
        record.agent_exit, record.detail = run.exit_code, run.detail
        record.input_tokens, record.output_tokens, record.turns = (
            run.input_tokens,
            run.output_tokens,
            run.turns,
        )
        agent_failure = _agent_outcome(run)
        deadline = time.monotonic() + task.timeout  # the grade gets its own budget
    copy_grade_files(task, work)
    grade = grader.run_all(task.grade_commands(), work, deadline)
    record.grade = _records(grade)
    record.passed = bool(grade) and all(r.ok for r in grade)
    if record.passed:
        record.outcome = "passed"
    else:
        record.outcome = agent_failure or _grade_outcome(grade)
    record.wall_seconds = time.monotonic() - start
    return record
