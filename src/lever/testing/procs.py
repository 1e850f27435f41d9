"""Which processes live, read from /proc: tests check that lever leaves none behind."""

from __future__ import annotations

import contextlib
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (PID 1 of a container may never reap an
    orphan, so a killed process can stay listed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which stands in parentheses and may hold anything.
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def alive_with(marker: str) -> list[int]:
    """The living processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if marker in cmdline and alive(int(entry.name)):
                    found.append(int(entry.name))
    return found
