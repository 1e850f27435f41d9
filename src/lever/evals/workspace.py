"""An attempt's workspace: a fresh temp git repository at the task's base, and its grading.

Setup and grade commands run through lever's sandbox in workspace-write mode with no network
(the same confinement the agent gets), with lever's own interpreter first on PATH so `python`
and `python -m pytest` are the ones lever runs on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lever.evals.tasks import Task

#: Output kept per command in the report (the end: that is where test summaries are).
OUTPUT_TAIL = 4000
_GIT = ["git", "-c", "user.name=lever-eval", "-c", "user.email=eval@lever.invalid"]


class WorkspaceError(RuntimeError):
    """The workspace could not be made (bad git source, a reference patch that does not apply)."""


@dataclass
class CommandResult:
    command: str
    exit_code: int | None  # None: timed out
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _git(args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        [*_GIT, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise WorkspaceError(f"git {' '.join(args)}: {result.stderr.strip()[-300:]}")
    return result.stdout


def make_workspace(task: Task, parent: Path) -> Path:
    """A new git repository under `parent` holding the task's repository at its base commit."""
    work = Path(tempfile.mkdtemp(prefix=f"{task.id}-", dir=parent)) / "repo"
    if task.repo is not None:
        _git(["clone", "-q", "--no-hardlinks", str(task.repo), str(work)], parent)
        _git(["checkout", "-q", "--detach", str(task.base_commit)], work)
        return work
    assert task.root is not None  # checked when the task was loaded
    shutil.copytree(task.root / "repo", work, symlinks=True)
    _git(["init", "-q", "-b", "main"], work)
    _git(["add", "-A"], work)
    _git(["commit", "-q", "--no-verify", "-m", "base"], work)
    return work


def apply_patch(work: Path, patch: Path) -> None:
    """Apply the reference solution; a patch that does not apply is the suite's fault."""
    result = subprocess.run(
        [*_GIT, "apply", "--whitespace=nowarn", str(patch)],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise WorkspaceError(f"{patch}: does not apply: {result.stderr.strip()[-300:]}")


def copy_grade_files(task: Task, work: Path) -> None:
    """Hidden tests go in last, over whatever the agent left at those paths."""
    if task.grade_files is not None:
        shutil.copytree(task.grade_files, work, dirs_exist_ok=True)


def command_env() -> dict[str, str]:
    """The environment of setup and grade commands: no secrets, lever's python first on PATH."""
    from lever.sandbox.env import command_env as sandbox_env

    env = sandbox_env(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Graders want plain pytest: lever's dev plugins (textual snapshots, asyncio, xdist...)
    # cost seconds of start-up per command and warn into the output.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTHONPATH", None)
    return env


class Grader:
    """Runs setup and grade commands in lever's sandbox (workspace-write, no network)."""

    def __init__(self, mechanism: str | None = None) -> None:
        self.mechanism = mechanism
        self.env = command_env()
        #: Why commands run unconfined, when no sandbox mechanism is available here.
        self.unconfined_reason: str | None = None

    def _sandbox(self, work: Path) -> Any:
        """A sandbox for one command; it must outlive the command (it owns the private tmp)."""
        from lever.sandbox.base import SandboxPolicy
        from lever.sandbox.factory import make_sandbox

        policy = SandboxPolicy(mode="workspace-write", writable_roots=(work,), network=False)
        sandbox = make_sandbox(policy, self.mechanism)
        if not getattr(sandbox, "available", True):
            self.unconfined_reason = getattr(sandbox, "reason", "") or "no sandbox mechanism"
        return sandbox

    def run(self, command: str, work: Path, timeout: float) -> CommandResult:
        start = time.monotonic()
        sandbox = self._sandbox(work)
        # Its own session, so a timeout kills the whole tree (pytest and its children too).
        process = subprocess.Popen(
            sandbox.wrap(["bash", "-c", command], work, self.env),
            cwd=work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        exit_code: int | None
        try:
            raw, _ = process.communicate(timeout=timeout)
            exit_code = process.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raw, _ = process.communicate()
            exit_code = None
        output = raw.decode("utf-8", "replace")[-OUTPUT_TAIL:]
        return CommandResult(command, exit_code, output, time.monotonic() - start)

    def run_all(self, commands: list[str], work: Path, deadline: float) -> list[CommandResult]:
        """Run `commands` in order until one fails; all share the time left until `deadline`."""
        results: list[CommandResult] = []
        for command in commands:
            left = deadline - time.monotonic()
            if left <= 0:
                results.append(CommandResult(command, None, "no time left", 0.0))
                break
            results.append(self.run(command, work, left))
            if not results[-1].ok:
                break
        return results
