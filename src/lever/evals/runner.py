"""Run a suite: every task times k attempts on a fleet executor, graded as each one finishes.

lever's own agent runs as fleet attempts (`lever.fleet.executors`: `local` — asyncio in this
process — or `ray`), so an eval attempt and a `lever fleet` attempt are the same thing; there is
no second way to run one. `--oracle`, `--empty` and external agents are not lever sessions: they
run in worker threads, at most `concurrency` at once, on the same workspaces and grader.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lever import __version__
from lever.evals import attempts
from lever.evals.actors import AgentRun, ExternalAgent
from lever.evals.attempts import Base, LeverAgent
from lever.evals.pricing import Price, attempt_cost
from lever.evals.progress import Progress
from lever.evals.report import AttemptRecord, RunReport, summarize
from lever.evals.tasks import Task
from lever.evals.workspace import Grader, WorkspaceError

Record = Callable[[AttemptRecord], None]


@dataclass
class RunOptions:
    suite: str
    mode: str  # oracle | empty | agent
    k: int = 1
    concurrency: int = 1
    seed: int = 0
    #: lever's own agent (mode agent), or an external one; neither for oracle/empty.
    lever: LeverAgent | None = None
    external: ExternalAgent | None = None
    executor: str = "local"
    ray_address: str | None = None
    #: A session's end (reason, detail) -> the exit status `lever exec` would give.
    exit_code_of: Callable[[str, str], int] = field(default=lambda reason, detail: 0)
    provider: str | None = None
    model: str | None = None
    price: Price | None = None
    #: Keep the attempt workspaces here instead of deleting them (for debugging a task).
    keep: Path | None = None
    mechanism: str | None = None
    progress: TextIO | None = field(default=None, repr=False)
    #: A progress bar (True), plain lines (False), or a bar only on a terminal (None).
    bar: bool | None = None

    @property
    def agent_label(self) -> str | None:
        if self.mode != "agent":
            return None
        return self.external.label if self.external else "lever"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    if options.executor != "local" and options.lever is None:
        raise WorkspaceError(
            f"--executor {options.executor} runs lever's own agent; --oracle, --empty and "
            "external agents run on the local executor"
        )
    started = _now()
    grader = Grader(options.mechanism)
    scratch = Path(tempfile.mkdtemp(prefix="lever-eval-"))
    records: list[AttemptRecord] = []
    progress = Progress(len(tasks) * options.k, options.progress, bar=options.bar)

    def record(done: AttemptRecord) -> None:
        done.cost_usd = attempt_cost(options.price, done.input_tokens, done.output_tokens)
        records.append(done)
        progress(done)

    try:
        with progress:
            asyncio.run(_run_all(tasks, options, grader, scratch, record))
    finally:
        if options.keep is not None:
            shutil.copytree(scratch, options.keep, dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(scratch, ignore_errors=True)
    records.sort(key=lambda r: (r.task_id, r.attempt))
    summary, task_summaries = summarize(records, {t.id: t.tags for t in tasks}, options.seed)
    return RunReport(
        lever_version=__version__,
        suite=options.suite,
        mode=options.mode,
        agent=options.agent_label,
        executor=options.executor,
        provider=options.provider,
        model=options.model,
        price=options.price,
        k=options.k,
        seed=options.seed,
        started=started,
        finished=_now(),
        unconfined=grader.unconfined_reason,
        summary=summary,
        tasks=task_summaries,
        attempts=records,
    )


async def _run_all(
    tasks: list[Task], options: RunOptions, grader: Grader, scratch: Path, record: Record
) -> None:
    bases = [await asyncio.to_thread(attempts.prepare_base, t, scratch, grader) for t in tasks]
    jobs: list[tuple[Base, int]] = []
    for base in bases:
        for attempt in range(options.k):
            if base.setup_failed:
                record(attempts.setup_failed(base, attempt))
            else:
                jobs.append((base, attempt))
    gate = asyncio.Semaphore(max(1, options.concurrency))
    if options.lever is not None:
        await _run_lever(jobs, options, options.lever, grader, gate, record)
    else:
        await asyncio.gather(*(_run_other(b, i, options, grader, gate, record) for b, i in jobs))


async def _run_other(
    base: Base,
    attempt: int,
    options: RunOptions,
    grader: Grader,
    gate: asyncio.Semaphore,
    record: Record,
) -> None:
    async with gate:
        record(await asyncio.to_thread(_other_or_error, base, attempt, options, grader))


def _other_or_error(base: Base, attempt: int, options: RunOptions, grader: Grader) -> AttemptRecord:
    return _guarded(
        base,
        attempt,
        options.keep,
        lambda: attempts.run_other(base, attempt, options.mode, grader, options.external),
    )


def _grade_or_error(
    base: Base, attempt: int, run: AgentRun, start: float, grader: Grader, keep: Path | None
) -> AttemptRecord:
    def grade() -> AttemptRecord:
        if run.crashed and not base.path(attempt).exists():
            raise RuntimeError(run.detail)  # no workspace to grade
        return attempts.grade(base, attempt, base.path(attempt), grader, run, start)

    return _guarded(base, attempt, keep, grade)


def _guarded(
    base: Base, attempt: int, keep: Path | None, work: Callable[[], AttemptRecord]
) -> AttemptRecord:
    """`work()` for one attempt, its workspace removed afterwards unless kept. A crash becomes
    that attempt's `agent_error` (one attempt must not lose the others' results); a broken suite
    (WorkspaceError) stops the run with its message."""
    try:
        return work()
    except WorkspaceError:
        raise
    except Exception as e:
        detail = str(e) or repr(e)
        return AttemptRecord(
            task_id=base.task.id,
            attempt=attempt,
            outcome="agent_error",
            passed=False,
            detail=detail,
        )
    finally:
        if keep is None:
            shutil.rmtree(base.path(attempt).parent, ignore_errors=True)


async def _run_lever(
    jobs: list[tuple[Base, int]],
    options: RunOptions,
    agent: LeverAgent,
    grader: Grader,
    gate: asyncio.Semaphore,
    record: Record,
) -> None:
    """The fleet executor runs the sessions; each finished one is graded while others run."""
    from lever.fleet.executors import make_executor

    executor = make_executor(options.executor, options.concurrency, options.ray_address)
    specs = {(b.task.id, i): (b, attempts.fleet_spec(b, i, agent)) for b, i in jobs}
    grading: list[asyncio.Task[None]] = []

    async def grade(base: Base, attempt: int, result: attempts.AttemptResult) -> None:
        code = options.exit_code_of(result.reason, result.detail) if result.reason else None
        run = attempts.lever_run(result, code)
        start = time.monotonic() - result.seconds
        async with gate:
            done = await asyncio.to_thread(
                _grade_or_error, base, attempt, run, start, grader, options.keep
            )
        record(done)

    try:
        ordered = [spec for _, spec in specs.values()]
        async with contextlib.aclosing(executor.run(ordered, lambda spec: None)) as results:
            async for result in results:
                base, spec = specs[(result.task, result.attempt)]
                grading.append(asyncio.create_task(grade(base, spec.n, result)))
        await asyncio.gather(*grading)
    finally:
        for task in grading:
            task.cancel()


def default_progress() -> TextIO:
    return sys.stderr
