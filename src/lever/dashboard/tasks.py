"""New tasks from the page: each is a `lever exec --json` subprocess owned by the server.

A subprocess (not a thread in the server) because it is the same front-end flow as `lever exec`,
it survives the browser closing, and SIGINT interrupts it exactly as Ctrl-C would. The page
watches it like any other session: through its rollout. Approvals from the page are not in this
slice, so tasks run with `--ask-for-approval never`.
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

SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
_URL = re.compile(r"^https?://[^\s]{1,500}$")
START_TIMEOUT = 60.0


class TaskError(ValueError):
    """A task that cannot start; the message is shown to the person."""


@dataclass
class TaskRequest:
    prompt: str
    cwd: str
    model: str = ""
    provider: str = ""
    base_url: str = ""
    sandbox: str = "workspace-write"

    def check(self, projects: set[str]) -> None:
        if not self.prompt.strip():
            raise TaskError("the prompt is empty")
        if self.cwd not in projects or not Path(self.cwd).is_dir():
            raise TaskError("choose the folder from the known projects")
        if self.sandbox not in SANDBOXES:
            raise TaskError(f"sandbox must be one of {', '.join(SANDBOXES)}")
        for label, value in (("model", self.model), ("provider", self.provider)):
            if value and not _NAME.match(value):  # never an option in disguise (`--foo`)
                raise TaskError(f"{label} {value!r} is not a valid name")
        if self.base_url and not _URL.match(self.base_url):
            raise TaskError("base URL must start with http:// or https://")

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "lever.cli.main", "exec", "--json"]
        argv += ["--sandbox", self.sandbox, "--ask-for-approval", "never", "-C", self.cwd]
        for flag, value in (
            ("--model", self.model),
            ("--provider", self.provider),
            ("--base-url", self.base_url),
        ):
            if value:
                argv += [flag, value]
        return [*argv, "-"]  # the prompt goes on stdin: no way for it to become a flag


@dataclass
class Task:
    session_id: str
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.time)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        code = self.process.returncode
        return {
            "session_id": self.session_id,
            "pid": self.process.pid,
            "started": self.started,
            "running": code is None,
            "exit_code": code,
        }


class TaskRunner:
    """The server's background sessions, by session id."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.tasks: dict[str, Task] = {}

    async def start(self, request: TaskRequest) -> Task:
        process = await asyncio.create_subprocess_exec(
            *request.argv(),
            cwd=request.cwd,
            # The sessions this server shows: the task's rollout must land in the same home.
            env={**os.environ, "LEVER_HOME": str(self.home)},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C on the server's terminal is not the task's
        )
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write(request.prompt.encode())
        await process.stdin.drain()
        process.stdin.close()
        try:
            session_id = await asyncio.wait_for(_first_session(process), START_TIMEOUT)
        except (TimeoutError, TaskError):
            session_id = None
        if session_id is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            err = (await process.stderr.read()).decode(errors="replace").strip()
            await process.wait()
            lines = err.splitlines()[:12]  # the start of lever's message says what went wrong
            raise TaskError("\n".join(lines) if lines else "lever exec did not start")
        task = Task(session_id, process)
        task.pumps = [
            asyncio.create_task(_drain(process.stdout, None)),
            asyncio.create_task(_drain(process.stderr, task.stderr)),
        ]
        self.tasks[session_id] = task
        return task

    def interrupt(self, session_id: str) -> bool:
        """SIGINT, as Ctrl-C in a terminal: the turn ends as "interrupted"."""
        task = self.tasks.get(session_id)
        if task is None or task.process.returncode is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            task.process.send_signal(signal.SIGINT)
        return True

    async def shutdown(self, grace: float = 5.0) -> None:
        """The server stops: interrupt what still runs, then kill what does not end."""
        for session_id in list(self.tasks):
            self.interrupt(session_id)
        for task in self.tasks.values():
            try:
                await asyncio.wait_for(task.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    task.process.kill()
                await task.process.wait()
            for pump in task.pumps:
                pump.cancel()


async def _first_session(process: asyncio.subprocess.Process) -> str | None:
    """The session id from the first event `lever exec --json` prints (session_started)."""
    assert process.stdout is not None
    while line := await process.stdout.readline():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") == "session_started":
            return str(event.get("session_id") or "") or None
    return None


async def _drain(stream: asyncio.StreamReader, keep: deque[str] | None) -> None:
    """Read a pipe to its end so the child never blocks on a full pipe."""
    while line := await stream.readline():
        if keep is not None:
            keep.append(line.decode(errors="replace").rstrip())
