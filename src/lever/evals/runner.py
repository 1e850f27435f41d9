"""Run a suite: every task times k attempts, bounded concurrency, a progress line per attempt.

Attempts are independent (each has its own workspace), so they run in a thread pool; the work
itself happens in subprocesses (git, `lever exec`, the sandboxed grade commands).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lever import __version__
from lever.evals.attempts import AgentSpec, run_attempt
from lever.evals.report import AttemptRecord, RunReport, summarize
from lever.evals.tasks import Task
from lever.evals.workspace import Grader, WorkspaceError


@dataclass
class RunOptions:
    suite: str
    mode: str  # oracle | empty | agent
    k: int = 1
    concurrency: int = 1
    seed: int = 0
    agent: AgentSpec | None = None
    #: Keep the attempt workspaces here instead of deleting them (for debugging a task).
    keep: Path | None = None
    mechanism: str | None = None
    progress: TextIO | None = field(default=None, repr=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Progress:
    """One line per finished attempt on stderr: done/total, passing so far, ETA."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.stream = total, stream
        self.done = self.passed = 0
        self.start = time.monotonic()

    def __call__(self, record: AttemptRecord) -> None:
        self.done += 1
        self.passed += record.passed
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        mark = "pass" if record.passed else record.outcome
        self.stream.write(
            f"[{self.done}/{self.total}] {record.task_id} #{record.attempt}: {mark}"
            f"  (passing {self.passed}, eta {eta:.0f}s)\n"
        )
        self.stream.flush()


def _attempt_or_error(
    task: Task, attempt: int, options: RunOptions, scratch: Path, grader: Grader
) -> AttemptRecord:
    # Each attempt in its own folder, removed as soon as it is graded (unless --keep): a run of
    # many attempts on a big repository must not fill the disk.
    folder = scratch / f"{task.id}-{attempt}"
    folder.mkdir()
    try:
        return run_attempt(task, attempt, options.mode, folder, grader, options.agent)
    except WorkspaceError:
        raise  # the suite is broken: stop the run with its message
    except Exception as e:  # one attempt's crash must not lose the others' results
        return AttemptRecord(
            task_id=task.id, attempt=attempt, outcome="agent_error", passed=False, detail=repr(e)
        )
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def check_tools(tasks: list[Task]) -> None:
    """Fail before any attempt when the grades need pytest and lever's python has none."""
    import importlib.util

    needs = any("pytest" in " ".join(t.grade_commands()) for t in tasks)
    if needs and importlib.util.find_spec("pytest") is None:
        raise WorkspaceError(
            f"the grade commands run pytest, which {sys.executable} cannot import: "
            "install it into lever's environment (e.g. `uv tool install lever --with pytest`)"
        )


def run_suite(tasks: list[Task], options: RunOptions) -> RunReport:
    check_tools(tasks)
    started = _now()
    grader = Grader(options.mechanism)
    jobs = [(task, i) for task in tasks for i in range(options.k)]
    progress: Callable[[AttemptRecord], None] = _Progress(len(jobs), options.progress)
    scratch = Path(tempfile.mkdtemp(prefix="lever-eval-"))
    records: list[AttemptRecord] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
            futures = [
                pool.submit(_attempt_or_error, task, i, options, scratch, grader)
                for task, i in jobs
            ]
            try:
                for future in as_completed(futures):
                    records.append(future.result())
                    progress(records[-1])
            except BaseException:
                # A broken suite (or Ctrl-C): stop starting attempts; running ones finish.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        if options.keep is not None:
            shutil.copytree(scratch, options.keep, dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(scratch, ignore_errors=True)
    records.sort(key=lambda r: (r.task_id, r.attempt))
    summary, task_summaries = summarize(records, {t.id: t.tags for t in tasks}, options.seed)
    agent = options.agent
    return RunReport(
        lever_version=__version__,
        suite=options.suite,
        mode=options.mode,
        provider=agent.provider if agent else None,
        model=agent.model if agent else None,
        k=options.k,
        seed=options.seed,
        started=started,
        finished=_now(),
        unconfined=grader.unconfined_reason,
        summary=summary,
        tasks=task_summaries,
        attempts=records,
    )


def default_progress() -> TextIO:
    return sys.stderr
