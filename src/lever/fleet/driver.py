"""`lever fleet run` and `resume`: plan the attempts, record them, run them on an executor,
choose; every step also an event in `events.jsonl` (see `lever.fleet.events`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever.agent.limits import Limits
from lever.config.providers import ResolvedModel
from lever.fleet import store, workspace
from lever.fleet.attempt import AttemptResult, AttemptSpec
from lever.fleet.events import EventLog
from lever.fleet.executors import Executor
from lever.fleet.progress import Progress
from lever.fleet.select import choose
from lever.fleet.tasks import Task


@dataclass
class FleetOptions:
    tasks: list[Task]
    k: int
    cwd: Path
    home: Path
    resolved: ResolvedModel
    config: dict[str, Any]
    limits: Limits
    sandbox_mode: str | None = None
    verify_timeout: float = 600.0
    #: The session's end (reason, detail) -> the exit code `lever exec` would give.
    exit_code_of: Callable[[str, str], int] = field(default=lambda reason, detail: 0)
    #: The command-line options, recorded in the manifest so `resume` can rebuild the rest.
    recorded: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1


@dataclass
class FleetRun:
    id: str
    folder: Path
    manifest: dict[str, Any]
    specs: list[AttemptSpec]
    results: list[AttemptResult] = field(default_factory=list)
    status: str = "running"

    def save(self) -> None:
        self.manifest["status"] = self.status
        store.write_json(self.folder / "manifest.json", self.manifest)
        ordered = sorted(self.results, key=lambda r: (r.task, r.attempt))
        chosen = choose(ordered)
        store.write_json(
            self.folder / "results.json",
            {"run": self.id, "chosen": chosen, "attempts": [r.to_json() for r in ordered]},
        )

    @property
    def todo(self) -> list[AttemptSpec]:
        """The attempts without a result (all of them, unless this run is resumed)."""
        done = {(r.task, r.attempt) for r in self.results}
        return [s for s in self.specs if (s.task.id, s.n) not in done]


def make_spec(run_id: str, folder: Path, source: workspace.Source, task: Task, n: int,
          options: FleetOptions) -> AttemptSpec:  # fmt: skip
    return AttemptSpec(
        run=run_id,
        task=task,
        n=n,
        source=source,
        snapshot=folder / "base",
        path=folder / "worktrees" / task.id / str(n),
        branch=f"lever/fleet/{run_id}/{task.id}/{n}",
        git_dir=folder / "gitdirs" / f"{task.id}-{n}",
        files=folder / "attempts",
        resolved=options.resolved,
        config=options.config,
        limits=options.limits,
        sandbox_mode=options.sandbox_mode,
        verify_timeout=options.verify_timeout,
    )


def plan(options: FleetOptions, executor: str) -> FleetRun:
    """The run's folder, the snapshot of the person's tree and every attempt, recorded before
    any workspace exists (so `clean` can always find what a run made)."""
    source = workspace.inspect(options.cwd)
    if options.home.resolve().is_relative_to(source.root):
        # Worktrees (or copies) would land inside the tree they are made from.
        raise workspace.WorkspaceError(
            f"LEVER_HOME ({options.home}) is inside {source.root}; set LEVER_HOME elsewhere"
        )
    run_id = store.new_run_id()
    folder = store.fleets_dir(options.home) / run_id
    workspace.snapshot(source, folder / "base")
    specs = [
        make_spec(run_id, folder, source, task, n, options)
        for task in options.tasks
        for n in range(1, options.k + 1)
    ]
    manifest = {
        "run": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "root": str(source.root),
        "git": source.git,
        "head": source.head,
        "cwd": source.cwd_rel,
        "k": options.k,
        "executor": executor,
        "provider": options.resolved.provider.name,
        "model": options.resolved.model,
        "options": options.recorded,
        "driver": {"pid": os.getpid()},
        "tasks": [task.to_json() for task in options.tasks],
        "attempts": [
            {"task": s.task.id, "attempt": s.n, "path": str(s.path), "branch": s.branch}
            for s in specs
        ],
    }
    return FleetRun(run_id, folder, manifest, specs)


async def execute(
    run: FleetRun, executor: Executor, progress: Progress, options: FleetOptions
) -> None:
    """Run every attempt without a result, saving the results as each one finishes. On
    cancellation (Ctrl-C) the executor stops the attempts still running; the run is recorded
    as interrupted."""
    events = EventLog(run.folder)
    m = run.manifest
    resumed = bool(m.get("resumed"))
    events.emit(
        "run_started", run=run.id, tasks=[t["id"] for t in m["tasks"]], k=m["k"],
        attempts=len(run.specs), executor=m["executor"], concurrency=options.concurrency,
        provider=m["provider"], model=m["model"], resumed=resumed, done=len(run.results),
    )  # fmt: skip

    def started(spec: AttemptSpec) -> None:
        events.emit("attempt_started", task=spec.task.id, attempt=spec.n)
        progress.started(spec)

    run.save()
    try:
        async with contextlib.aclosing(executor.run(run.todo, started)) as results:
            async for result in results:
                if result.reason:
                    result.exit_code = options.exit_code_of(result.reason, result.detail)
                run.results.append(result)
                run.save()
                events.emit(
                    "attempt_finished", task=result.task, attempt=result.attempt,
                    result=result.to_json(),
                )  # fmt: skip
                progress.finished(result)
        run.status = "finished"
    except asyncio.CancelledError:
        run.status = "interrupted"
        raise
    except BaseException:
        run.status = "failed"
        raise
    finally:
        run.save()
        chosen = choose(run.results)
        events.emit("selection", chosen=chosen)
        passed = sum(n is not None for n in chosen.values())
        events.emit("run_finished", status=run.status, passed=passed, results=len(run.results))
        events.close()
