"""One attempt: make its workspace, run its session to the end, verify, measure the diff.

`run_attempt` takes only plain data (an `AttemptSpec`), so the same function runs in the
driver's event loop (local executor) and on a Ray worker. The session is built by
`lever.frontend`, as `lever exec` opens it, and driven by `Session.run_turn`:
a fleet adds no second way to run a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lever.agent.limits import Limits
from lever.config.providers import ResolvedModel
from lever.fleet import workspace
from lever.fleet.tasks import Task
from lever.sandbox.base import Sandbox

#: Verification output kept in the results (the whole of it goes to a file).
_OUTPUT_TAIL = 2000
#: `git worktree add` on one repository is not safe to run concurrently.
_GIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class AttemptSpec:
    run: str
    task: Task
    n: int
    source: workspace.Source
    snapshot: Path
    path: Path  # the workspace (worktree or copy)
    branch: str
    git_dir: Path  # a copy's own git directory (unused for worktrees)
    files: Path  # where the diff and the verification output go
    resolved: ResolvedModel
    config: dict[str, Any]
    limits: Limits
    sandbox_mode: str | None = None
    verify_timeout: float = 600.0

    @property
    def key(self) -> str:
        return f"{self.task.id}-{self.n}"


@dataclass
class AttemptResult:
    task: str
    attempt: int
    #: passed | failed (verification failed, or the session did not finish) | error
    status: str
    verify_exit: int | None = None
    reason: str = ""  # the session's end: done, limit, error, interrupted, …
    detail: str = ""
    exit_code: int | None = None  # as `lever exec` would exit (filled in by the driver)
    files: int = 0
    added: int = 0
    removed: int = 0
    tokens: int = 0
    turns: int = 0
    seconds: float = 0.0
    rollout: str | None = None
    diff: str | None = None
    verify_output: str = ""
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def lines(self) -> int:
        return self.added + self.removed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttemptResult:
        return cls(**data)


async def run_attempt(spec: AttemptSpec) -> AttemptResult:
    """Run one attempt to its end; failures of the attempt become its result, not exceptions
    (cancellation excepted: it propagates after the session and its processes are closed)."""
    began = time.monotonic()
    result = AttemptResult(spec.task.id, spec.n, "error")
    try:
        ws, base = await asyncio.to_thread(_prepare, spec)
        result.timings["workspace"] = round(time.monotonic() - began, 3)
        cwd = ws.path / spec.source.cwd_rel
        sandbox, env = await _run_session(spec, cwd, result)
        await _verify(spec, cwd, sandbox, env, result)
        await asyncio.to_thread(_record_diff, spec, ws, base, result)
    except (OSError, workspace.WorkspaceError) as e:
        result.status, result.error = "error", str(e)
    except Exception as e:
        result.status, result.error = "error", f"{type(e).__name__}: {e}"
    result.seconds = round(time.monotonic() - began, 3)
    return result


def _prepare(spec: AttemptSpec) -> tuple[workspace.Workspace, str]:
    with _GIT_LOCK:
        ws = workspace.create(spec.source, spec.snapshot, spec.path, spec.branch, spec.git_dir)
    return ws, workspace.base_tree(ws)


async def _run_session(
    spec: AttemptSpec, cwd: Path, result: AttemptResult
) -> tuple[Sandbox, dict[str, str]]:
    """The session to its end; its sandbox and environment, which verification reuses."""
    from lever import frontend
    from lever.assembly import sandbox_from

    began = time.monotonic()
    sandbox = sandbox_from(spec.config, argparse.Namespace(sandbox=spec.sandbox_mode), cwd)
    # Opened through the one front-end flow, from what the fleet already resolved.
    plan = frontend.Plan(
        frontend.Request(cwd=cwd), cwd, spec.config, spec.resolved, sandbox, "never", spec.limits
    )
    session = frontend.build(plan).session
    result.timings["session_start"] = round(time.monotonic() - began, 3)
    result.rollout = str(session.rollout.path) if session.rollout else None
    try:
        session.start()
        # `drive` closes the session (killing its processes) however it ends, cancelled too.
        finished = await frontend.drive(session, [spec.task.prompt])
        result.reason, result.detail = finished.reason, finished.detail
    finally:
        result.tokens = session.usage.total_tokens
        result.turns = session.usage.requests
    result.timings["session"] = round(time.monotonic() - began, 3)
    return session.sandbox, session.env


async def _verify(
    spec: AttemptSpec, cwd: Path, sandbox: Sandbox, env: dict[str, str], result: AttemptResult
) -> None:
    if spec.task.verify is None:
        # Nothing to run: an attempt passes when its session reached its final answer.
        result.status = "passed" if result.reason == "done" else "failed"
        return
    began = time.monotonic()
    argv = sandbox.wrap(["bash", "-c", spec.task.verify], cwd, env)
    code, output = await run_command(argv, cwd, env, spec.verify_timeout)
    result.verify_exit = code
    spec.files.mkdir(parents=True, exist_ok=True)
    (spec.files / f"{spec.key}.verify.txt").write_text(output, encoding="utf-8")
    result.verify_output = output[-_OUTPUT_TAIL:]
    result.status = "passed" if code == 0 else "failed"
    result.timings["verify"] = round(time.monotonic() - began, 3)


async def run_command(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str]:
    """Run `argv` in its own process group; kill the whole group on timeout or cancellation."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        out, _ = await proc.communicate()
        return 124, out.decode(errors="replace") + f"\n[verification timed out after {timeout} s]"
    finally:
        if proc.returncode is None:  # cancelled
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
    code = proc.returncode if proc.returncode is not None else -1
    return code, out.decode(errors="replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _record_diff(
    spec: AttemptSpec, ws: workspace.Workspace, base: str, result: AttemptResult
) -> None:
    text, stat = workspace.diff(ws, base)
    spec.files.mkdir(parents=True, exist_ok=True)
    path = spec.files / f"{spec.key}.diff"
    path.write_text(text, encoding="utf-8")
    result.diff = str(path)
    result.files, result.added, result.removed = stat.files, stat.added, stat.removed
