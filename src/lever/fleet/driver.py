"""`lever fleet run`: plan the attempts, record them, run them on an executor, choose."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever.agent.limits import Limits
from lever.config.providers import ResolvedModel
from lever.fleet import store, workspace
from lever.fleet.attempt import AttemptResult, AttemptSpec
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
    snap = folder / "base"
    workspace.snapshot(source, snap)
    specs = [
        AttemptSpec(
            run=run_id,
            task=task,
            n=n,
            source=source,
            snapshot=snap,
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
    """Run every attempt, saving the results as each one finishes. On cancellation (Ctrl-C)
    the executor stops the attempts still running; the run is recorded as interrupted."""
    run.save()
    try:
        async with contextlib.aclosing(executor.run(run.specs, progress.started)) as results:
            async for result in results:
                if result.reason:
                    result.exit_code = options.exit_code_of(result.reason, result.detail)
                run.results.append(result)
                run.save()
                progress.finished(result)
    except asyncio.CancelledError:
        run.status = "interrupted"
        run.save()
        raise
    run.status = "finished"
    run.save()
