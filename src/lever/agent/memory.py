"""Workspace memory: the plan (and the person's notes) as files in `.lever/`, re-read after a
compaction, so a long run re-reads its state from the environment instead of trusting a summary.

`.lever/` stays read-only to sandboxed commands; lever itself writes the plan there. Modes:
"on", "off", or "auto" (the default): on once the run has lasted `AUTO_AFTER_S` or has compacted.

Where the sandbox cannot keep `.lever/` read-only (Landlock), a command could make it, or a file
in it, a symlink to `~/.bashrc` or `~/.ssh/id_rsa`; lever's own process would then write the
plan there, or read a secret back to the model. So both go through `fs_beneath`: no symlink is
followed out of the workspace, only regular files are read, and a refused file is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

from lever.agent.state import WorkState
from lever.sandbox.fs_beneath import Beneath, UnsafePath
from lever.sandbox.paths import PathOutsideRoots

#: What makes a memory file unusable: it is skipped, never followed.
_REFUSED = (OSError, UnsafePath, PathOutsideRoots)

AUTO_AFTER_S = 600.0
#: Bytes of each memory file given back to the model after a compaction.
READ_CAP = 8_000
FILES = ("plan.md", "notes.md")


class WorkspaceMemory:
    def __init__(self, cwd: Path, mode: str = "auto") -> None:
        if mode not in ("on", "off", "auto"):
            raise ValueError(f"memory mode must be on, off or auto, not {mode!r}")
        self.cwd = cwd
        self.folder = cwd / ".lever"
        self.fs = Beneath([cwd])
        self.mode = mode
        self.started = time.monotonic()
        self.compacted = False

    def active(self) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        return self.compacted or time.monotonic() - self.started >= AUTO_AFTER_S

    def write_plan(self, state: WorkState) -> None:
        if not self.active() or not state.plan:
            return
        text = "# Plan (kept by lever; rewritten at every plan update)\n\n"
        text += "\n".join(f"- {line}" for line in state.render_plan().splitlines()) + "\n"
        try:
            where = self.fs.locate(".lever/plan.md", self.cwd)
            self.fs.write_atomic(where, text.encode("utf-8"), None)
        except _REFUSED:
            pass  # the plan stays in the conversation; a file lever cannot write safely is left

    def read(self) -> str:
        """The memory files as text for the environment snapshot ("" when there are none)."""
        if not self.active():
            return ""
        parts = []
        for name in FILES:
            try:
                data, _ = self.fs.read_regular(self.fs.locate(f".lever/{name}", self.cwd))
            except _REFUSED:
                continue  # absent, or not a regular file inside the workspace
            text = data.decode("utf-8", errors="replace")
            path = self.folder / name
            cut = (
                f"\n[... {len(text) - READ_CAP} more characters in {path}]"
                if len(text) > READ_CAP
                else ""
            )
            parts.append(f"--- .lever/{name}\n{text[:READ_CAP].rstrip()}{cut}")
        return "\n".join(parts)
