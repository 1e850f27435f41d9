"""The `apply_patch` tool: edit files with the `*** Begin Patch` envelope, all or nothing.

Also `make_patch` / `make_add_patch`, which write valid envelopes (for demo scripts, tests and
scripted models): `make_patch(path, old, new)` applied to a file holding `old` yields `new`.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

from lever.protocol import PatchApplied
from lever.protocol.tools import ToolSchema
from lever.tools.base import ToolContext, ToolResult
from lever.tools.patch_apply import PatchApplyError, PlannedPatch, commit, plan_patch
from lever.tools.patch_parser import (
    AddFile,
    Chunk,
    Op,
    Patch,
    PatchParseError,
    UpdateFile,
    parse_patch,
    render_patch,
)
from lever.tools.patch_text import Matcher, split_text

DESCRIPTION = """\
Edit files with a patch. `input` is the whole patch text:

*** Begin Patch
*** Add File: path/to/new.py
+each line of the new file, prefixed with +
*** Update File: src/app.py
*** Move to: src/renamed.py
@@ def handler():
 context line (starts with one space)
-line to remove
+line to add
*** End of File
*** Delete File: old.txt
*** End Patch

- Update File: one or more hunks, each starting with @@. `@@ <line>` names a line above the \
change (a def or class) to find the right place; a bare @@ is fine when the context is unique.
- In a hunk, copy context (' ') and removed ('-') lines exactly from the file, with about 3 \
context lines above and below the change; hunks go in file order. No line numbers.
- `*** Move to:` (optional) renames the updated file. `*** End of File` (optional) anchors the \
hunk at the end of the file.
- Add File creates a file that must not exist; Delete File removes one.
- Paths are relative to the working directory and must stay inside the workspace.
- The patch applies completely or not at all; an error names the hunk that did not match and \
shows the closest lines of the file."""

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "description": "The entire patch, from '*** Begin Patch' to '*** End Patch'.",
        }
    },
    "required": ["input"],
    "additionalProperties": False,
}

#: The same tool as a freeform (custom) tool, for the model families trained on that form: the
#: model sends the patch text itself, constrained by the grammar in apply_patch.lark.
FREEFORM_DESCRIPTION = DESCRIPTION.replace(
    "Edit files with a patch. `input` is the whole patch text:",
    "Edit files with a patch. This is a FREEFORM tool: send the patch text itself, not JSON:",
)

_UNCHANGED = "No files were changed."


def freeform_grammar() -> str:
    """The Lark grammar of the patch envelope (Codex's, for its freeform apply_patch)."""
    return (Path(__file__).parent / "apply_patch.lark").read_text(encoding="utf-8")


def apply_patch_text(text: str, cwd: Path, roots: Iterable[Path]) -> PlannedPatch:
    """Parse, plan and write `text`; raise PatchParseError/PatchApplyError (nothing written)."""
    plan = plan_patch(parse_patch(text), cwd, roots)
    commit(plan)
    return plan


#: What `--provider local` shows a small model (ApplyPatchTool.offer_small).
SMALL_DESCRIPTION = (files("lever.tools") / "apply_patch_small.md").read_text("utf-8").strip()


class ApplyPatchTool:
    schema = ToolSchema(name="apply_patch", description=DESCRIPTION, parameters=PARAMETERS)

    def offer_small(self) -> None:
        """One example with PATH for the file, no list lines: the 1.5B model copied the full
        description's examples (`src/app.py`, `old.txt`) and its `- ...` notes into its patches."""
        self.schema = ToolSchema(
            name="apply_patch", description=SMALL_DESCRIPTION, parameters=PARAMETERS
        )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        text = args.get("input")
        if not isinstance(text, str):
            got = "missing" if text is None else f"a {type(text).__name__}"
            return ToolResult(
                output=f"apply_patch needs `input`: the patch text as a string (got {got}). "
                'Call it as {"input": "*** Begin Patch\\n...\\n*** End Patch"}.',
                is_error=True,
            )
        refused = await _check_approval(text, ctx)
        if refused is not None:
            return refused
        try:
            # File reads and writes are blocking; keep the event loop (and the TUI) responsive.
            plan = await asyncio.to_thread(apply_patch_text, text, ctx.cwd, ctx.roots)
        except PatchParseError as exc:
            return ToolResult(output=f"Invalid patch: {exc}\n{_UNCHANGED}", is_error=True)
        except PatchApplyError as exc:
            message = str(exc)
            if exc.unchanged and _UNCHANGED.lower() not in message.lower():
                message += f"\n{_UNCHANGED}"
            return ToolResult(output=f"Patch not applied: {message}", is_error=True)
        except OSError as exc:  # e.g. a file that cannot be read; planning writes nothing
            return ToolResult(output=f"Patch not applied: {exc}\n{_UNCHANGED}", is_error=True)
        ctx.emit(PatchApplied(call_id=ctx.call_id, files=plan.files, diff=plan.diff()))
        return ToolResult(output=plan.summary())


async def _check_approval(text: str, ctx: ToolContext) -> ToolResult | None:
    """Ask the approval policy (keyed on the patch's paths); a refusal writes nothing."""
    if ctx.approvals is None:
        return None
    try:
        patch = parse_patch(text)
    except PatchParseError:
        return None  # the tool reports the parse error; nothing can be written
    paths: list[str] = []
    for hunk in patch.hunks:
        paths.append(hunk.path)
        if isinstance(hunk, UpdateFile) and hunk.move_to:
            paths.append(hunk.move_to)
    verdict = await ctx.approvals.check_patch(
        call_id=ctx.call_id,
        paths=list(dict.fromkeys(paths)),
        cwd=ctx.cwd,
        sandbox=ctx.sandbox,
        emit=ctx.emit,
    )
    return None if verdict.allowed else ToolResult(output=verdict.message, is_error=True)


# -- writing patches ---------------------------------------------------------------------


def make_add_patch(path: str, content: str) -> str:
    """An envelope creating `path` with exactly `content` (LF line ends)."""
    lines = content.split("\n")
    no_eol = lines[-1] != ""
    if not no_eol:
        lines.pop()
    return render_patch(Patch((AddFile(path, tuple(lines), no_eol and bool(content)),)))


def make_patch(path: str, old: str, new: str, context: int = 3) -> str:
    """An Update File envelope that turns `old` into `new` when applied to a file holding `old`.

    Lines are compared without their ends: a file's CRLF/LF style is kept by the applier and
    cannot be changed by a patch. Each hunk gets enough context to be found at its own place by
    the applier's in-order search, so repeated lines cannot send it elsewhere.
    """
    if old == new:
        raise ValueError("old and new are identical: there is nothing to patch")
    a, b = split_text(old), split_text(new)
    # The final newline is part of the last line's identity, so a change of it shows as a hunk.
    ka = [(line, a.eol or i < len(a.lines) - 1) for i, line in enumerate(a.lines)]
    kb = [(line, b.eol or i < len(b.lines) - 1) for i, line in enumerate(b.lines)]
    matcher = Matcher(a.lines)
    chunks: list[Chunk] = []
    search_from = 0
    grouped = difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_grouped_opcodes(context)
    for group in grouped:
        lo, hi = group[0][1], group[-1][2]
        ops: list[tuple[Op, str]] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for i in range(i1, i2):
                    ops.append((" ", ka[i][0]))
                    if not ka[i][1]:
                        ops.append(("\\", ""))
                continue
            for i in range(i1, i2):
                ops.append(("-", ka[i][0]))
                if not ka[i][1]:
                    ops.append(("\\", ""))
            for j in range(j1, j2):
                ops.append(("+", kb[j][0]))
                if not kb[j][1]:
                    ops.append(("\\", ""))
        if lo == hi < len(ka):
            # A bare insertion would be applied at the end of the file: anchor it on the (equal)
            # line that follows it instead.
            ops.append((" ", ka[hi][0]))
            if not ka[hi][1]:
                ops.append(("\\", ""))
            hi += 1
        at_end = hi == len(ka)
        if not at_end and hi > lo:
            # Grow the context upwards until the first match after the previous hunk is ours.
            while lo > search_from:
                hit = matcher.seek(a.lines[lo:hi], search_from)
                if hit is not None and hit[0] == lo:
                    break
                lo -= 1
                ops.insert(0, (" ", a.lines[lo]))
        chunks.append(Chunk((), tuple(ops), at_end))
        search_from = hi
    return render_patch(Patch((UpdateFile(path, None, tuple(chunks)),)))
