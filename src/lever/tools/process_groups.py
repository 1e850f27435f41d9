"""Process groups and scopes of the commands `ProcessManager` runs: is a group still alive, signal
it, what a command left running, what its process runs before exec, why it did not start."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lever.sandbox.cgroup import Scope
from lever.tools.command_limits import CommandLimits


def group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` is alive (zombies do not count).

    Zombies matter here: when PID 1 does not reap orphans (common in containers), killed
    grandchildren stay as zombies and `killpg(pgid, 0)` keeps succeeding.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass(frozen=True)
class Lingering:
    """A command that exited while processes it started live on: its group and its scope."""

    pgid: int
    scope: Scope | None

    def alive(self) -> bool:
        return group_alive(self.pgid) or (self.scope is not None and self.scope.populated())


def preexec(limits: CommandLimits | None, scope: Scope | None) -> Callable[[], None] | None:
    """Join the scope first, so the rlimits' process count starts inside it."""
    steps = [step for step in (scope and scope.join(), limits and limits.preexec()) if step]
    if not steps:
        return None

    def run_all() -> None:
        for step in steps:
            step()

    return run_all


def start_error(argv: list[str], cwd: Path | str, exc: OSError | ValueError) -> str:
    if isinstance(exc, ValueError):
        return f"could not start {argv[0]}: {exc}"
    if isinstance(exc, FileNotFoundError):
        if not Path(cwd).is_dir():
            return f"working directory not found: {cwd}"
        return f"command not found: {argv[0]}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {argv[0]}"
    return f"could not start {argv[0]}: {exc.strerror or exc}"
