"""The shell's `workdir` against a background command flipping it between folder and symlink.

The attack (issue 14, item 2): lever checked `workdir`, then used the path again, both to start
the command and to compute the sandbox's writable roots; a background command flipping `d` to a
symlink to an outside folder in between got some commands run with that folder writable. Now
the folder is opened once (no symlink followed), the command starts in it by fd, and the
writable roots come from the workspace alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lever.sandbox.base import Sandbox
from lever.testing.tree import snapshot
from lever.tools.base import ToolContext
from lever.tools.processes import ProcessManager
from lever.tools.shell import ShellTool
from tests.security.race_attacker import ENV, MECHANISMS, TOGGLE, Attacker, sandbox_for

#: Commands that must have run (in the real folder) while it flipped; refused calls (the folder
#: was a link to outside when lever looked) do not count, up to `ATTEMPTS` calls.
RUNS = 15
ATTEMPTS = 400
#: Commands that must have run for the case to count: how many of ATTEMPTS land while `d` is a
#: folder depends on the scheduler (13 of 400 seen on a busy CI machine), so fewer than RUNS.
ENOUGH_RUNS = 5


class Recording:
    """The real sandbox, remembering the folder each command's writable roots came from."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.name = inner.name
        self.policy = inner.policy
        self.granted: list[str] = []

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        wrapped = self.inner.wrap(argv, cwd, env)
        # The mechanism's own arguments (binds, the Landlock policy), before the command.
        self.granted.append(" ".join(wrapped[: wrapped.index("--")] if "--" in wrapped else []))
        return wrapped


@dataclass
class Outcome:
    outside_changed: bool
    granted_outside: int
    ran: int
    outputs: list[str]


async def flip_while_running(world: Path, mechanism: str, *, git: bool = False) -> Outcome:
    ws, outside = world / "ws", world / "outside"
    # In a repository the sandbox keeps `.git` read-only (under Landlock, by granting only the
    # top-level entries), so the attacker works one folder down, as it would there.
    top = ws / "src" if git else ws
    (top / "d").mkdir(parents=True)
    if git:
        (ws / ".git").mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("the person's file\n")
    before = snapshot(outside)
    sandbox = Recording(sandbox_for(mechanism))
    attacker = Attacker(ws, sandbox_for(mechanism))
    manager = ProcessManager(kill_grace_s=0.3)
    ctx = ToolContext(cwd=ws, sandbox=sandbox, env=ENV)
    outputs: list[str] = []
    ran = 0
    try:
        args = [str(top / "d"), str(outside), str(top / ".ready"), str(top / ".stop")]
        await attacker.start(TOGGLE, *args, ready=top / ".ready")
        for i in range(ATTEMPTS):
            # A relative write (lands wherever the command starts), and, in a sandbox, an
            # absolute one into the outside folder (works only if it was made writable).
            absolute = "" if mechanism == "none" else f"; touch {outside}/abs-{i}"
            command = ["sh", "-c", f"touch rel-{i}{absolute}"]
            workdir = "src/d" if git else "d"
            call = {"command": command, "workdir": workdir, "yield_ms": 30_000}
            outputs.append((await ShellTool(manager).run(call, ctx)).output)
            ran += outputs[-1].startswith("exit code")
            if ran == RUNS:
                break
        (top / ".stop").touch()
        await attacker.finish()
    finally:
        await manager.close()
        await attacker.close()
    granted = sum(1 for grant in sandbox.granted if str(outside) in grant)
    return Outcome(snapshot(outside) != before, granted, ran, outputs)


@pytest.mark.parametrize("git", [False, True], ids=["folder", "repository"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_flipping_workdir_never_runs_a_command_outside(
    tmp_path: Path, mechanism: str, git: bool
) -> None:
    outcome = await flip_while_running(tmp_path, mechanism, git=git)
    assert not outcome.outside_changed, outcome.outputs
    assert outcome.granted_outside == 0
    # Commands really ran while the folder flipped (the others were refused: it was a link to
    # outside, or changed, when lever opened it).
    assert outcome.ran >= ENOUGH_RUNS, outcome.outputs
    refusals = [out for out in outcome.outputs if not out.startswith("exit code")]
    assert all("outside the workspace" in out or "symbolic link" in out for out in refusals), [
        out for out in refusals if "outside the workspace" not in out
    ]
