"""One attempt of a task: its workspace, the actor's work, the grade.

Every task has a *base*: its repository at its start commit in a scratch git repository, where
the setup commands ran once (`prepare_base`). An attempt's workspace is a fleet workspace of that
base (`lever.fleet.workspace`: a git worktree plus whatever setup left), made by the fleet's own
code. The actor is then:

- lever: a fleet attempt (`lever.fleet.attempt.run_attempt`, on the fleet executor the run
  chose): the session is opened and driven exactly as `lever fleet` (and `lever exec`) do;
  `lever_run` reads how it ended;
- `--oracle` (the reference patch), `--empty` (nothing), or an external agent CLI
  (`lever.evals.actors`): `run_other`, in a worker thread.

Whatever the actor, `grade` finishes the attempt the same way: the hidden files are copied in,
the grade commands run in lever's sandbox, and the outcome is classified.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lever.evals.actors import AgentRun, ExternalAgent, run_external
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
from lever.fleet import workspace as fleet_workspace
from lever.fleet.attempt import AttemptResult, AttemptSpec
from lever.fleet.tasks import Task as FleetTask

#: `lever exec` exit status -> the failure class of an attempt that did not pass.
_EXEC_FAILURES: dict[int, Outcome] = {3: "timeout", 5: "model_api_error", 6: "sandbox_denial"}
#: `git worktree add` on one repository is not safe to run concurrently.
_GIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Base:
    """A task's prepared start: the fleet source its attempts' workspaces are made from."""

    task: Task
    source: fleet_workspace.Source
    snapshot: Path
    setup: list[CommandRecord]
    setup_failed: bool
    scratch: Path

    def path(self, attempt: int) -> Path:
        return self.scratch / "work" / f"{self.task.id}-{attempt}" / "repo"

    def branch(self, attempt: int) -> str:
        return f"lever/eval/{attempt}"

    def git_dir(self, attempt: int) -> Path:
        return self.scratch / "gitdirs" / f"{self.task.id}-{attempt}"


@dataclass(frozen=True)
class LeverAgent:
    """What a fleet attempt needs to open lever's session, as the CLI resolved it."""

    resolved: Any  # lever.config.providers.ResolvedModel
    config: dict[str, Any]
    limits: Any  # lever.agent.limits.Limits
    sandbox_mode: str | None = None


def prepare_base(task: Task, scratch: Path, grader: Grader) -> Base:
    """The task's repository at its base in `scratch/bases/`, with its setup commands run."""
    folder = scratch / "bases"
    folder.mkdir(parents=True, exist_ok=True)
    repo = make_workspace(task, folder)
    setup = grader.run_all(task.setup, repo, time.monotonic() + task.timeout)
    source = fleet_workspace.inspect(repo)
    snapshot = repo.parent / "snapshot"
    fleet_workspace.snapshot(source, snapshot)
    failed = bool(setup) and not setup[-1].ok
    return Base(task, source, snapshot, _records(setup), failed, scratch)


def new_workspace(base: Base, attempt: int) -> Path:
    """The attempt's own worktree of the base (the fleet's workspace code)."""
    path = base.path(attempt)
    with _GIT_LOCK:
        fleet_workspace.create(
            base.source, base.snapshot, path, base.branch(attempt), base.git_dir(attempt)
        )
    return path


def fleet_spec(base: Base, attempt: int, agent: LeverAgent) -> AttemptSpec:
    """The fleet attempt that runs lever's agent on this task; its time limit is the task's."""
    task = base.task
    limit = agent.limits.max_seconds
    seconds = task.timeout if limit is None else min(limit, task.timeout)
    return AttemptSpec(
        run="eval",
        task=FleetTask(task.id, task.instruction),
        n=attempt,
        source=base.source,
        snapshot=base.snapshot,
        path=base.path(attempt),
        branch=base.branch(attempt),
        git_dir=base.git_dir(attempt),
        files=base.scratch / "files",
        resolved=agent.resolved,
        config=agent.config,
        limits=replace(agent.limits, max_seconds=seconds),
        sandbox_mode=agent.sandbox_mode,
    )


def lever_run(result: AttemptResult, exit_code: int | None) -> AgentRun:
    """How a fleet attempt's session ended: `exit_code` is what `lever exec` would exit with;
    the token split and API errors come from the session's rollout."""
    if result.status == "error" and not result.reason:
        return AgentRun(None, crashed=True, detail=result.error or "the attempt failed")
    run = AgentRun(exit_code, turns=result.turns, lever_codes=True)
    if exit_code:
        run.detail = f"{result.reason}: {result.detail}"[-500:]
    if result.rollout:
        _rollout_usage(Path(result.rollout), run)
    return run


def _rollout_usage(path: Path, run: AgentRun) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("type") == "token_usage":
            run.input_tokens += int(event.get("input_tokens", 0))
            run.output_tokens += int(event.get("output_tokens", 0))
        elif event.get("type") == "error" and str(event.get("kind", "")).startswith(
            ("http_", "stream")
        ):
            run.api_error = True


def run_other(
    base: Base, attempt: int, mode: str, grader: Grader, external: ExternalAgent | None
) -> AttemptRecord:
    """An attempt whose actor is not lever's agent: oracle, empty or an external CLI."""
    start = time.monotonic()
    work = new_workspace(base, attempt)
    run: AgentRun | None = None
    if mode == "oracle":
        if base.task.solution is None:
            raise WorkspaceError(f"task {base.task.id}: no reference solution (solution.patch)")
        apply_patch(work, base.task.solution)
    elif external is not None:
        run = run_external(external, base.task.instruction, work, base.task.timeout)
    return grade(base, attempt, work, grader, run, start)


def setup_failed(base: Base, attempt: int) -> AttemptRecord:
    return AttemptRecord(
        task_id=base.task.id,
        attempt=attempt,
        outcome="setup_error",
        passed=False,
        detail="a setup command failed",
        setup=base.setup,
    )


def grade(
    base: Base, attempt: int, work: Path, grader: Grader, run: AgentRun | None, start: float
) -> AttemptRecord:
    """Copy the hidden files in, run the grade commands, classify the outcome."""
    task = base.task
    record = AttemptRecord(
        task_id=task.id, attempt=attempt, outcome="grade_failed", passed=False, setup=base.setup
    )
    if run is not None:
        record.agent_exit, record.detail, record.turns = run.exit_code, run.detail, run.turns
        record.input_tokens, record.output_tokens = run.input_tokens, run.output_tokens
    copy_grade_files(task, work)
    results = grader.run_all(task.grade_commands(), work, time.monotonic() + task.timeout)
    record.grade = _records(results)
    record.passed = bool(results) and all(r.ok for r in results)
    if record.passed:
        record.outcome = "passed"
    else:
        record.outcome = agent_outcome(run) or grade_outcome(results)
    record.wall_seconds = round(time.monotonic() - start, 3)
    return record


def agent_outcome(run: AgentRun | None) -> Outcome | None:
    """The failure class the agent's own end implies, None if it finished normally."""
    if run is None or run.exit_code == 0:
        return None
    if run.timed_out:
        return "timeout"
    if run.crashed or run.exit_code is None:
        return "agent_error"
    if run.lever_codes and run.exit_code in _EXEC_FAILURES:
        return _EXEC_FAILURES[run.exit_code]
    return "model_api_error" if run.api_error else "agent_error"


def grade_outcome(results: list[CommandResult]) -> Outcome:
    from lever.sandbox.denial import sandbox_denial

    if not results:
        return "grade_failed"
    last = results[-1]
    if last.exit_code is None:
        return "timeout"
    if sandbox_denial(last.exit_code, last.output):
        return "sandbox_denial"
    return "grade_failed"


def _records(results: list[CommandResult]) -> list[CommandRecord]:
    return [
        CommandRecord(
            command=r.command, exit_code=r.exit_code, seconds=r.seconds, output_tail=r.output
        )
        for r in results
    ]


def run_attempt(
    task: Task,
    attempt: int,
    mode: str,
    scratch: Path,
    grader: Grader,
    external: ExternalAgent | None = None,
) -> AttemptRecord:
    """One attempt from nothing (its own base): for tests and single checks of a task."""
    base = prepare_base(task, scratch, grader)
    if base.setup_failed:
        return setup_failed(base, attempt)
    return run_other(base, attempt, mode, grader, external)
