"""Fleet runs for the dashboard: the recorded files of `$LEVER_HOME/fleets/RUN/`, read through
the fleet package (`lever.fleet.store`, `lever.fleet.manage`), and new runs started from the page.

The grid comes from `manifest.json` (the tasks and every attempt), `results.json` (each
finished attempt) and, while a run goes on, `events.jsonl` when the fleet writes one: an
attempt with a start event and no result is running. Without that file, an attempt whose
workspace exists (each makes its worktree when it starts) is running, and the others of a
running fleet are `pending`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever.fleet import manage, store
from lever.fleet.workspace import WorkspaceError
from lever.sandbox.paths import PathOutsideRoots, confine

RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_DIFF = 2_000_000
START_TIMEOUT = 60.0


class FleetError(ValueError):
    """A run that cannot be shown, started, applied, interrupted or cleaned; the message is for
    the person."""


class NoSuchRun(FleetError):
    pass


def list_runs(home: Path) -> list[dict[str, Any]]:
    """Every recorded run, newest first."""
    rows = []
    for folder in reversed(store.all_runs(home)):
        try:
            m = store.read_json(folder / "manifest.json")
            results = _results(folder)["attempts"]
        except (OSError, ValueError, KeyError):
            continue  # a run being written, or damaged: the others still show
        rows.append({
            "run": m["run"], "created": m.get("created", ""), "status": m.get("status", "?"),
            "tasks": len(m["tasks"]), "k": m["k"], "root": m["root"], "model": m.get("model"),
            "passed": sum(r["status"] == "passed" for r in results), "finished": len(results),
            "cleaned": bool(m.get("cleaned")),
        })  # fmt: skip
    return rows


def _results(folder: Path) -> dict[str, Any]:
    if (folder / "results.json").is_file():
        data: dict[str, Any] = store.read_json(folder / "results.json")
        return data
    return {"attempts": [], "chosen": {}}


def _folder(home: Path, run: str) -> Path:
    if not RUN_ID.match(run):
        raise NoSuchRun("no such fleet run")
    folder = store.fleets_dir(home) / run
    if not (folder / "manifest.json").is_file():
        raise NoSuchRun("no such fleet run")
    return folder


def _manifest(home: Path, run: str) -> dict[str, Any]:
    manifest: dict[str, Any] = store.read_json(_folder(home, run) / "manifest.json")
    return manifest


def started_attempts(folder: Path) -> dict[tuple[str, int], float]:
    """(task, attempt) -> when it started, from the run's events.jsonl if the fleet wrote one:
    one JSON object a line (`lever.fleet.events`: `seq`, `time`, `type`, and `task`/`attempt`
    on attempt events). The latest `attempt_started` counts (a resumed run starts an attempt
    again); any other event naming an attempt shows that it started at least. A torn last
    line is skipped."""
    path = folder / "events.jsonl"
    started: dict[tuple[str, int], float] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                event = json.loads(line)
                key = (str(event["task"]), int(event["attempt"]))
                when = float(event.get("time") or event.get("ts") or 0)
                if event.get("type") == "attempt_started":
                    started[key] = when
                else:
                    started.setdefault(key, when)
    return started


def made_workspaces(manifest: dict[str, Any]) -> dict[tuple[str, int], float]:
    """(task, attempt) -> when its workspace was made: an attempt makes its worktree (or copy)
    when it starts, so one that exists has started (the fleet without events.jsonl)."""
    made: dict[tuple[str, int], float] = {}
    for a in manifest.get("attempts", []):
        with contextlib.suppress(OSError, KeyError, TypeError):
            made[(str(a["task"]), int(a["attempt"]))] = Path(a["path"]).stat().st_mtime
    return made


def run_detail(home: Path, run: str) -> dict[str, Any]:
    """The run's grid: one row per task, one cell per attempt (status, tokens, seconds)."""
    folder = _folder(home, run)
    m = store.read_json(folder / "manifest.json")
    data = _results(folder)
    done = {(r["task"], r["attempt"]): r for r in data["attempts"]}
    events = started_attempts(folder)
    started = {**made_workspaces(m), **events} if m.get("status") == "running" else events
    now, live = time.time(), m.get("status") == "running"
    rows = []
    for task in m["tasks"]:
        cells = []
        for n in range(1, m["k"] + 1):
            r = done.get((task["id"], n))
            if r is not None:
                cell = {key: r.get(key) for key in _CELL}
                cell["has_diff"] = bool(r.get("diff"))
            elif (task["id"], n) in started and live:
                ts = started[(task["id"], n)]
                cell = {"status": "running", "seconds": round(now - ts, 1) if ts else None}
            else:
                cell = {"status": "pending" if live else "not run"}
            cells.append({"attempt": n, **cell})
        chosen = data["chosen"].get(task["id"])
        rows.append({
            "id": task["id"], "prompt": task.get("prompt", ""), "verify": task.get("verify"),
            "chosen": chosen, "attempts": cells,
        })  # fmt: skip
    keep = ("run", "created", "status", "k", "root", "provider", "model", "executor", "cleaned")
    return {**{key: m.get(key) for key in keep}, "events": bool(events), "tasks": rows}


_CELL: tuple[str, ...] = ("status", "verify_exit", "reason", "files", "added", "removed")
_CELL += ("tokens", "turns", "seconds", "error")


def diff_of(home: Path, run: str, task: str, attempt: int) -> str:
    """The recorded diff of one attempt; only a file inside the run's folder is read."""
    folder = _folder(home, run)
    if not TASK_ID.match(task):
        raise FleetError("no such task")
    rec = manage.Recorded.load(home, folder.name)
    result = rec.result(task, attempt)
    if result is None or not result.diff:
        raise FleetError(f"task {task} attempt {attempt} has no diff")
    try:
        path = confine(result.diff, folder, [folder])
    except (PathOutsideRoots, OSError) as exc:
        raise FleetError("the diff is not inside the run's folder") from exc
    with path.open(encoding="utf-8", errors="replace") as f:
        return f.read(MAX_DIFF)


def apply(home: Path, run: str, task: str | None) -> list[str]:
    """`lever fleet apply RUN [--task T]`: the fleet package's own function, same rules."""
    folder = _folder(home, run)
    if task is not None and not TASK_ID.match(task):
        raise FleetError("no such task")
    try:
        return manage.apply(home, folder.name, task, None)
    except (manage.ApplyError, store.RunNotFound) as exc:
        raise FleetError(str(exc)) from exc


def clean(home: Path, run: str) -> list[str]:
    """`lever fleet clean RUN`: the fleet package's own function, which refuses a run whose
    driver lives (cleaning under running attempts would pull their worktrees away)."""
    m = _manifest(home, run)
    if m.get("cleaned"):
        raise FleetError(f"run {run} is already cleaned")
    try:
        return manage.clean(home, run)
    except manage.ApplyError as exc:
        raise FleetError(str(exc)) from exc
    except (store.RunNotFound, WorkspaceError, OSError, KeyError) as exc:
        raise FleetError(f"cannot clean run {run}: {exc}") from exc


# -- new fleets from the page ---------------------------------------------------------------


@dataclass
class FleetRequest:
    prompt: str
    cwd: str
    attempts: int = 2
    verify: str = ""
    model: str = ""
    provider: str = ""
    base_url: str = ""
    sandbox: str = "workspace-write"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "lever.cli.main", "fleet", "run", "-C", self.cwd]
        argv += ["-k", str(self.attempts), "--sandbox", self.sandbox]
        for flag, value in (
            ("--verify", self.verify),
            ("--model", self.model),
            ("--provider", self.provider),
            ("--base-url", self.base_url),
        ):
            if value:
                argv.append(f"{flag}={value}")  # one argument: a value never becomes a flag
        return [*argv, "--", self.prompt]


@dataclass
class FleetProcess:
    run: str
    process: asyncio.subprocess.Process
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    pump: asyncio.Task[None] | None = None


class FleetRunner:
    """`lever fleet run` subprocesses owned by the server (they outlive any page)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runs: dict[str, FleetProcess] = {}
        #: Runs this server has sent their Ctrl-C, with the driver's pid: a second SIGINT
        #: would kill the driver in the middle of recording the interruption.
        self.interrupting: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def start(self, request: FleetRequest, env: dict[str, str]) -> str:
        # One start at a time: the new run is the folder that appears while it starts.
        async with self._lock:
            before = {p.name for p in store.all_runs(self.home)}
            process = await asyncio.create_subprocess_exec(
                *request.argv(),
                cwd=request.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C on the server's terminal is not the fleet's
            )
            run = await self._new_run(before, process)
        assert process.stderr is not None
        handle = FleetProcess(run, process)
        handle.pump = asyncio.create_task(_drain(process.stderr, handle.stderr))
        self.runs[run] = handle
        return run

    async def _new_run(self, before: set[str], process: asyncio.subprocess.Process) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            new = [p.name for p in store.all_runs(self.home) if p.name not in before]
            if new:
                return new[-1]
            if process.returncode is not None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.1)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        assert process.stderr is not None
        err = (await process.stderr.read()).decode(errors="replace").strip()
        await process.wait()
        raise FleetError("\n".join(err.splitlines()[:12]) or "lever fleet run did not start")

    async def interrupt(self, run: str, wait: float = 20.0) -> str:
        """A Ctrl-C on the run's `lever fleet run` (or `resume`), whichever process drives it
        (this server's or a terminal's): SIGINT to the driver, whose handler cancels every
        attempt (each closes its session, killing its commands) and records the run as
        `interrupted`, resumable. Returns the recorded status once it changed (or `running`
        when the driver is still stopping after `wait` seconds)."""
        m = _manifest(self.home, run)
        status = m.get("status", "?")
        if status != "running":
            raise FleetError(f"run {run} is not running (it is {status})")
        pid = store.live_driver(m)
        if pid is None:
            raise FleetError(
                f"run {run} is recorded as running but its driver has ended: `lever fleet "
                f"resume {run}` finishes it, `lever fleet clean {run}` removes its worktrees"
            )
        if self.interrupting.get(run) == pid:
            raise FleetError(f"run {run} is already being interrupted")
        self.interrupting[run] = pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = (await asyncio.to_thread(_manifest, self.home, run)).get("status", "?")
            if status != "running":
                break
        return str(status)

    async def shutdown(self, grace: float = 10.0) -> None:
        """SIGINT each fleet (its first Ctrl-C: attempts cancelled, run recorded as
        interrupted), then kill what does not end."""
        for handle in self.runs.values():
            pid = handle.process.pid
            if handle.process.returncode is None and self.interrupting.get(handle.run) != pid:
                with contextlib.suppress(ProcessLookupError):
                    handle.process.send_signal(signal.SIGINT)
        for handle in self.runs.values():
            try:
                await asyncio.wait_for(handle.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    handle.process.kill()
                await handle.process.wait()
            if handle.pump is not None:
                handle.pump.cancel()


async def _drain(stream: asyncio.StreamReader, keep: deque[str]) -> None:
    while line := await stream.readline():
        keep.append(line.decode(errors="replace").rstrip())
