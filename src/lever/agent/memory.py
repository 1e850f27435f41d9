"""Workspace memory: the plan (and the person's notes) as files in `.lever/`, re-read after a
compaction, so a long run re-reads its state from the environment instead of trusting a summary.

`.lever/` stays read-only to sandboxed commands; lever itself writes the plan there. Modes:
"on", "off", or "auto" (the default): on once the run has lasted `AUTO_AFTER_S` or has compacted.
"""

from __future__ import annotations

import time
from pathlib import Path

from lever.agent.state import WorkState

AUTO_AFTER_S = 600.0
#: Bytes of each memory file given back to the model after a compaction.
READ_CAP = 8_000
FILES = ("plan.md", "notes.md")


class WorkspaceMemory:
    def __init__(self, cwd: Path, mode: str = "auto") -> None:
        if mode not in ("on", "off", "auto"):
            raise ValueError(f"memory mode must be on, off or auto, not {mode!r}")
        self.folder = cwd / ".lever"
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
        self.folder.mkdir(exist_ok=True)
        text = "# Plan (kept by lever; rewritten at every plan update)\n\n"
        text += "\n".join(f"- {line}" for line in state.render_plan().splitlines()) + "\n"
        (self.folder / "plan.md").write_text(text, encoding="utf-8")

    def read(self) -> str:
        """The memory files as text for the environment snapshot ("" when there are none)."""
        if not self.active():
            return ""
        parts = []
        for name in FILES:
            path = self.folder / name
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                cut = (
                    f"\n[... {len(text) - READ_CAP} more characters in {path}]"
                    if len(text) > READ_CAP
                    else ""
                )
                parts.append(f"--- .lever/{name}\n{text[:READ_CAP].rstrip()}{cut}")
        return "\n".join(parts)
