"""apply_patch against a background command that swaps a folder for a symlink mid-patch.

The attack (issue 14, item 1): the model starts a command that keeps running, watches for the
patch's first file, then turns the folder the patch writes into a symlink to a folder outside
the workspace. lever's own process is not sandboxed; if it wrote by path, every later file of the
patch would land outside. With thousands of files the race is won every time on the old code.
Here, whatever the mechanism, nothing outside changes, in every round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lever.testing.tree import snapshot
from lever.tools.apply_patch import ApplyPatchTool
from lever.tools.base import ToolContext
from tests.security.race_attacker import MECHANISMS, WATCH_AND_SWAP, Attacker, sandbox_for

FILES = 2000
ROUNDS = 3


def _patch(op: str) -> str:
    lines = ["*** Begin Patch"]
    for i in range(FILES):
        if op == "add":
            lines += [f"*** Add File: d/f{i:04}.txt", f"+pwned {i}"]
        else:
            lines += [f"*** Update File: d/f{i:04}.txt", "@@", "-old", f"+pwned {i}"]
    return "\n".join([*lines, "*** End Patch"]) + "\n"


@dataclass
class Round:
    outside_changed: bool
    refused: bool
    output: str


async def one_round(world: Path, mechanism: str, op: str) -> Round:
    ws, outside = world / "ws", world / "outside"
    (ws / "d").mkdir(parents=True)
    outside.mkdir()
    (outside / "keep.txt").write_text("the person's file\n")
    for i in range(FILES):
        # The person's files, named as the patch's: overwritten, or deleted by a rollback that
        # goes through the link, if lever writes by path.
        (outside / f"f{i:04}.txt").write_text(f"precious {i}\n")
        if op == "update":
            (ws / "d" / f"f{i:04}.txt").write_text("old\n")
    before = snapshot(outside)
    attacker = Attacker(ws, sandbox_for(mechanism))
    try:
        args = [str(ws / "d" / "f0000.txt"), str(ws / "d"), str(outside), str(ws / ".ready")]
        await attacker.start(WATCH_AND_SWAP, *args, ready=ws / ".ready")
        result = await ApplyPatchTool().run({"input": _patch(op)}, ToolContext(cwd=ws))
        await attacker.finish()
    finally:
        await attacker.close()
    return Round(snapshot(outside) != before, result.is_error, result.output)


@pytest.mark.parametrize("op", ["add", "update"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_folder_swapped_mid_patch_never_lets_the_patch_write_outside(
    tmp_path: Path, mechanism: str, op: str
) -> None:
    rounds = [await one_round(tmp_path / f"round{n}", mechanism, op) for n in range(ROUNDS)]
    for n, r in enumerate(rounds):
        assert not r.outside_changed, f"round {n}: the patch wrote outside: {r.output[:400]}"
        if r.refused:  # the swap was seen: refused, and the rollback says what it could not reach
            assert "symbolic link" in r.output, r.output[:400]
    # The swap really happened while the patch was being written (else nothing was tested).
    assert any(r.refused for r in rounds), [r.output[:200] for r in rounds]
