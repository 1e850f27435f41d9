"""`lever fleet resume`: pick a run up after its driver died (a crash, SIGKILL, a reboot) or
was interrupted. What has a result in `results.json` stays as recorded; every other attempt
restarts from scratch in a fresh workspace — simpler and more predictable than replaying a
half-done session from its rollout, and an attempt is only a few turns of a cheap model call
away from where it was."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from lever.fleet import store, workspace
from lever.fleet.attempt import AttemptResult
from lever.fleet.driver import FleetOptions, FleetRun, make_spec
from lever.fleet.tasks import Task


class ResumeError(RuntimeError):
    """The run cannot be resumed (its driver still runs): one line, exit 2."""


def load_manifest(home: Path, run: str) -> tuple[Path, dict[str, Any]]:
    folder = store.find_run(home, run)
    manifest = store.read_json(folder / "manifest.json")
    pid = store.live_driver(manifest)
    if pid is not None:
        raise ResumeError(f"run {manifest['run']} is still running (lever, pid {pid})")
    if manifest.get("cleaned"):
        raise ResumeError(f"run {manifest['run']} was cleaned; its workspaces are gone")
    return folder, manifest


def tasks_of(manifest: dict[str, Any]) -> list[Task]:
    return [Task(t["id"], t["prompt"], t.get("verify")) for t in manifest["tasks"]]


def reopen(folder: Path, options: FleetOptions, executor: str) -> FleetRun:
    """A recorded run for `resume`: its finished attempts as recorded, the rest to run again.
    A half-done attempt (its workspace made, no result) is removed, with whatever processes
    the dead driver left running in it, and restarts in a fresh workspace at the same path and
    branch (its old rollout stays under sessions/, unreferenced)."""
    manifest = store.read_json(folder / "manifest.json")
    source = workspace.Source(
        Path(manifest["root"]), bool(manifest["git"]), manifest["head"], manifest["cwd"]
    )
    data: dict[str, Any] = {"attempts": []}
    if (folder / "results.json").is_file():
        data = store.read_json(folder / "results.json")
    tasks = {t.id: t for t in options.tasks}
    specs = [
        make_spec(manifest["run"], folder, source, tasks[a["task"]], a["attempt"], options)
        for a in manifest["attempts"]
    ]
    results = [AttemptResult.from_json(r) for r in data["attempts"]]
    run = FleetRun(manifest["run"], folder, manifest, specs, results)
    manifest["executor"] = executor
    manifest["options"] = options.recorded  # `resume --concurrency N` is recorded too
    manifest["driver"] = {"pid": os.getpid()}
    manifest.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    kill_leftovers(folder / "worktrees")
    for spec in run.todo:
        workspace.remove(source.root, source.git, spec.path, spec.branch)
        shutil.rmtree(spec.git_dir, ignore_errors=True)
    if source.git and source.root.is_dir():
        workspace.git(source.root, "worktree", "prune")
    return run


def kill_leftovers(folder: Path, settle: float = 5.0) -> list[int]:
    """SIGKILL every process working inside `folder`: commands a killed driver could not stop
    (bubblewrap's die-with-parent stops its own; the Landlock launcher dies with SIGKILL and
    leaves its children). Linux only (/proc); elsewhere nothing is found."""
    killed = []
    prefix = str(folder) + os.sep
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if (cwd + os.sep).startswith(prefix) and int(proc.name) != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
    deadline = time.monotonic() + settle
    while killed and time.monotonic() < deadline and any(_alive(p) for p in killed):
        time.sleep(0.05)
    return killed


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
