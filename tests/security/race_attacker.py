"""The hostile background command of the race tests, started as the model would start it.

The model calls `shell` with a short `yield_ms`: the command keeps running in the background,
inside the sandbox, while lever goes on with the next tool call (a patch, another command). So
the attacker here is a real process started through the real shell tool under each mechanism
("none": no sandbox, as with danger-full-access or an unavailable mechanism).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from lever.sandbox.base import NoSandbox, Sandbox, SandboxPolicy
from lever.tools.base import ToolContext
from lever.tools.processes import ProcessManager
from lever.tools.shell import ShellTool
from tests.security import confined

MECHANISMS = ("none", "landlock", "bwrap")
PY = sys.executable
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}

#: Swapping a folder for a symlink in one step (renameat2 RENAME_EXCHANGE, as an attacker
#: would), so lever never sees the name missing; plain renames where the C library lacks it.
_SWAP = r"""
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
def prepare(folder, outside):
    os.symlink(outside, folder + ".swap")
def swap(folder):
    if hasattr(_libc, "renameat2"):
        args = (-100, (folder + ".swap").encode(), -100, folder.encode(), 2)
        if _libc.renameat2(*args) == 0:
            return
    os.rename(folder, folder + ".tmp")
    os.rename(folder + ".swap", folder)
    os.rename(folder + ".tmp", folder + ".swap")
"""

#: Waits until `watched` changes (appears, or is replaced: its inode changes), then swaps
#: `folder` for a symlink to `outside`, as fast as it can.
WATCH_AND_SWAP = (
    _SWAP
    + r"""
import sys, time
watched, folder, outside, ready = sys.argv[1:5]
def state():
    try:
        return os.lstat(watched).st_ino
    except FileNotFoundError:
        return None
prepare(folder, outside)
first = state()
open(ready, "w").close()
deadline = time.monotonic() + 60
while state() == first:
    if time.monotonic() > deadline:
        sys.exit("the watched file never changed")
swap(folder)
print("swapped", flush=True)
"""
)

#: Flips `folder` between the real folder and a symlink to `outside` until `stop` exists,
#: holding each state about 2 ms: far shorter than starting a sandboxed command (what the old
#: code raced with), yet long enough that a loaded machine does not starve the flips.
TOGGLE = (
    _SWAP
    + r"""
import sys, time
folder, outside, ready, stop = sys.argv[1:5]
prepare(folder, outside)
open(ready, "w").close()
deadline = time.monotonic() + 120
flips = 0
while not os.path.exists(stop) and time.monotonic() < deadline:
    swap(folder)
    flips += 1
    time.sleep(0.002)
print("flips", flips, flush=True)
"""
)


def sandbox_for(mechanism: str) -> Sandbox:
    """The workspace-write sandbox of `mechanism`; "none": no sandbox at all."""
    if mechanism == "none":
        return NoSandbox(SandboxPolicy())
    return confined.sandbox_for(mechanism)


class Attacker:
    """A background command in `ws`, started through the shell tool inside `sandbox`."""

    def __init__(self, ws: Path, sandbox: Sandbox) -> None:
        self.manager = ProcessManager(kill_grace_s=0.3)
        self.tool = ShellTool(self.manager)
        self.ctx = ToolContext(cwd=ws, sandbox=sandbox, env=ENV)
        self.process_id: str | None = None

    async def start(self, script: str, *args: str, ready: Path) -> None:
        command = [PY, "-c", script, *args]
        result = await self.tool.run({"command": command, "yield_ms": 50}, self.ctx)
        assert result.process_id is not None, f"the attacker did not keep running: {result.output}"
        self.process_id = result.process_id
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline, "the attacker never got ready"
            await asyncio.sleep(0.005)

    async def finish(self, timeout_s: float = 60) -> str:
        """Wait for the attacker to exit; its output."""
        assert self.process_id is not None
        output = ""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            args = {"process_id": self.process_id, "yield_ms": 1000}
            result = await self.tool.run(args, self.ctx)
            output += result.output
            if result.process_id is None or "still running" not in result.output:
                return output
        await self.tool.run({"process_id": self.process_id, "kill": True}, self.ctx)
        raise AssertionError(f"the attacker did not finish: {output}")

    async def close(self) -> None:
        await self.manager.close()
