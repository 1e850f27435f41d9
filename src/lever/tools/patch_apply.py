"""Match parsed hunks against files and apply them, all or nothing.

`plan_patch` reads the files and computes every new content in memory; any hunk that does not
match, any path outside the writable roots, an Add onto an existing file or an Update/Delete of a
missing one raises `PatchApplyError` before a single byte is written. `commit` then writes all
changes (deletes, then atomic replaces) and puts everything back if the disk fails half-way.

Every read and write goes through `lever.sandbox.fs_beneath`: a walk from the root's fd that
follows no symlink, so a background command swapping a folder for a link mid-patch gets the patch
refused (and rolled back), never a write outside the workspace.

Matching, per chunk, tries increasingly tolerant line comparisons (exact, trailing whitespace,
leading+trailing whitespace, unicode punctuation) and takes the first position at or after the
previous chunk. Context lines keep the file's own bytes; only removed/added lines change, so a
fuzzy match never rewrites lines the model did not mean to touch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from lever.sandbox.fs_beneath import Beneath, Located, Saved, UnsafePath
from lever.sandbox.paths import PathOutsideRoots
from lever.tools.patch_parser import AddFile, Chunk, DeleteFile, Op, Patch, UpdateFile
from lever.tools.patch_text import (
    LEVEL_NAMES,
    FileText,
    Matcher,
    header_error,
    join_text,
    mismatch_error,
    reindenter,
    split_text,
)

# `.git` and `.lever` stay read-only under every sandbox mechanism (DESIGN §5, §11); a patch is
# not a way around that.
_PROTECTED_DIRS = frozenset({".git", ".lever"})


class PatchApplyError(Exception):
    """The patch cannot be applied. The message says exactly why, and whether anything stayed
    written (`unchanged` False: a rollback that could not reach a folder swapped mid-patch)."""

    def __init__(self, message: str, *, unchanged: bool = True) -> None:
        super().__init__(message)
        self.unchanged = unchanged


@dataclass
class FileOp:
    """One hunk's effect, for the summary and the diff."""

    status: str  # "A" added, "M" modified, "D" deleted, "R" moved (possibly edited)
    path: str
    dest: str | None = None
    before: str | None = None
    after: str | None = None


@dataclass
class PlannedPatch:
    ops: list[FileOp] = field(default_factory=list)
    #: Final state of every touched path: new text, or None to delete it.
    writes: dict[Path, str | None] = field(default_factory=dict)
    #: Permission bits to give written files (an updated file keeps its mode, a moved one too).
    modes: dict[Path, int] = field(default_factory=dict)
    #: Hunks that only matched with whitespace/punctuation tolerance, worth telling the model.
    notes: list[str] = field(default_factory=list)
    #: Where each touched path is, for the fd-based walks (never the path string itself).
    where: dict[Path, Located] = field(default_factory=dict)
    fs: Beneath = field(default_factory=lambda: Beneath(()))

    @property
    def files(self) -> list[str]:
        seen: dict[str, None] = {}
        for op in self.ops:
            seen[op.path] = None
            if op.dest is not None:
                seen[op.dest] = None
        return list(seen)

    def summary(self) -> str:
        lines = ["Success. Updated the following files:"]
        for op in self.ops:
            moved = f"R {op.path} -> {op.dest}"
            lines.append(moved if op.status == "R" else f"{op.status} {op.path}")
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)

    def diff(self) -> str:
        return "".join(_unified(op) for op in self.ops)


def _unified(op: FileOp) -> str:
    src = "/dev/null" if op.before is None else f"a/{op.path}"
    dst = "/dev/null" if op.after is None else f"b/{op.dest or op.path}"
    out: list[str] = []
    for line in difflib.unified_diff(_keepends(op.before), _keepends(op.after), src, dst):
        # git's marker, so a diff of a file without a final newline stays readable.
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    text = "".join(out)
    # Files are decoded with surrogateescape; the event must be valid UTF-8.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _keepends(text: str | None) -> list[str]:
    if not text:
        return []
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    return lines + ([parts[-1]] if parts[-1] else [])


class _Workspace:
    """Files as the patch sees them: the disk, overlaid with what earlier hunks did."""

    def __init__(self, cwd: Path, roots: Iterable[Path]) -> None:
        self.cwd = cwd
        self.roots = tuple(roots)
        self.plan = PlannedPatch(fs=Beneath(self.roots))
        self.fs = self.plan.fs

    def resolve(self, raw: str, what: str, *, follow: bool = True) -> Path:
        """The real path `raw` names (symlinks followed beneath the roots; with `follow=False`
        a final symlink stays itself), remembered for the fd-based walks that read and write."""
        try:
            loc = self.fs.locate(raw, self.cwd, follow_last=follow)
        except PathOutsideRoots:
            roots = ", ".join(str(r) for r in self.roots)
            raise PatchApplyError(
                f"{what} {raw}: the path is outside the workspace (writable roots: {roots}); "
                "the whole patch was refused"
            ) from None
        except (UnsafePath, OSError) as exc:
            raise PatchApplyError(
                f"{what} {raw}: {_reason(exc)}; the whole patch was refused"
            ) from None
        if _PROTECTED_DIRS.intersection(loc.parts):
            raise PatchApplyError(
                f"{what} {raw}: .git and .lever are read-only; the whole patch was refused"
            )
        self.plan.where[loc.path] = loc
        return loc.path

    def display(self, path: Path) -> str:
        base = self.cwd.resolve()
        return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)

    def exists(self, path: Path) -> bool:
        if path in self.plan.writes:
            return self.plan.writes[path] is not None
        return self.fs.lstat(self.plan.where[path]) is not None

    def read(self, path: Path, what: str, raw: str) -> str:
        if path in self.plan.writes:
            text = self.plan.writes[path]
            if text is None:
                raise PatchApplyError(f"{what} {raw}: the file was deleted earlier in this patch")
            return text
        try:
            data, mode = self.fs.read_regular(self.plan.where[path])
        except (FileNotFoundError, NotADirectoryError):
            raise PatchApplyError(f"{what} {raw}: the file does not exist") from None
        except IsADirectoryError:
            raise PatchApplyError(f"{what} {raw}: the path is a directory, not a file") from None
        except UnsafePath as exc:
            raise PatchApplyError(f"{what} {raw}: {exc}") from None
        if b"\0" in data:
            raise PatchApplyError(f"{what} {raw}: the file is binary; apply_patch edits text only")
        # lever may run as root: a rewritten file never gets setuid/setgid bits from lever.
        self.plan.modes.setdefault(path, mode & ~0o6000)
        return data.decode("utf-8", "surrogateescape")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def plan_patch(patch: Patch, cwd: Path, roots: Iterable[Path]) -> PlannedPatch:
    """Compute every change of `patch` in memory; raise PatchApplyError if any hunk fails."""
    ws = _Workspace(cwd, roots)
    plan = ws.plan
    if not patch.hunks:
        raise PatchApplyError("the patch contains no hunks; nothing to do")
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            # A symlink already there (even dangling) counts as existing: never write through it.
            path = ws.resolve(hunk.path, "Add File:", follow=False)
            if ws.exists(path):
                raise PatchApplyError(
                    f"Add File: {hunk.path}: the file already exists; use '*** Update File: "
                    f"{hunk.path}' to change it (or Delete it first)"
                )
            plan.writes[path] = hunk.contents
            plan.ops.append(FileOp("A", ws.display(path), after=hunk.contents))
        elif isinstance(hunk, DeleteFile):
            # Deleting a symlink removes the link, never the file it points to; the target is
            # read for the diff (and a link leading outside is refused, as any other path).
            key = ws.resolve(hunk.path, "Delete File:", follow=False)
            before = ws.read(ws.resolve(hunk.path, "Delete File:"), "Delete File:", hunk.path)
            plan.writes[key] = None
            plan.ops.append(FileOp("D", ws.display(key), before=before))
        else:
            _plan_update(ws, hunk)
    return plan


def _plan_update(ws: _Workspace, hunk: UpdateFile) -> None:
    plan = ws.plan
    path = ws.resolve(hunk.path, "Update File:")
    dest = path if hunk.move_to is None else ws.resolve(hunk.move_to, "Move to:", follow=False)
    before = ws.read(path, "Update File:", hunk.path)
    if dest != path and ws.exists(dest):
        raise PatchApplyError(
            f"Move to: {hunk.move_to}: the destination already exists (moving {hunk.path})"
        )
    display = ws.display(path)
    after = apply_chunks(before, hunk.chunks, display, plan.notes)
    if dest != path:
        plan.writes[path] = None
        if path in plan.modes:
            plan.modes[dest] = plan.modes[path]
    plan.writes[dest] = after
    dest_display = None if dest == path else ws.display(dest)
    plan.ops.append(FileOp("R" if dest_display else "M", display, dest_display, before, after))


@dataclass
class _Replacement:
    start: int
    end: int
    lines: list[tuple[str, bool]]
    chunk: Chunk


def apply_chunks(text: str, chunks: Iterable[Chunk], display: str, notes: list[str]) -> str:
    """Apply `chunks` in order to `text`; raise PatchApplyError naming the failing hunk."""
    ft = split_text(text)
    matcher = Matcher(ft.lines)
    pos = 0
    repls: list[_Replacement] = []
    for number, chunk in enumerate(chunks, 1):
        start = pos
        for header in chunk.headers:
            hit = matcher.seek_header(header, start)
            if hit is None:
                raise PatchApplyError(header_error(display, number, chunk, header, ft, start))
            start = hit + 1
        repl = _match_chunk(matcher, ft, chunk, start, display, number, notes)
        repls.append(repl)
        pos = repl.end
    return join_text(_rebuild(ft, repls))


def _match_chunk(
    matcher: Matcher,
    ft: FileText,
    chunk: Chunk,
    start: int,
    display: str,
    number: int,
    notes: list[str],
) -> _Replacement:
    ops = list(chunk.lines)
    if not [t for op, t in ops if op in " -"]:
        # Pure insertion: right after the @@ header line, or at the end of the file without one.
        at = start if chunk.headers else len(ft.lines)
        return _Replacement(at, at, _new_records(ops, ft, at, None), chunk)
    # Models often add a blank context line standing for the file's final newline; if the hunk
    # does not match with it, try without.
    variants = [ops]
    trimmed = list(ops)
    while trimmed and trimmed[-1] == (" ", ""):
        trimmed.pop()
    if trimmed != ops and any(op in " -" for op, _ in trimmed):
        variants.append(trimmed)
    for variant in variants:
        old = [t for op, t in variant if op in " -"]
        hit = None
        if chunk.end_of_file:
            hit = matcher.seek(old, start, end_at=len(ft.lines))
            if hit is None:
                hit = matcher.seek(old, start, end_at=ft.len_without_trailing_blanks())
        if hit is None:
            hit = matcher.seek(old, start)
        if hit is None and chunk.headers and start > 0:
            # The model repeated the @@ line as the hunk's first context line.
            hit = matcher.seek(old, start - 1)
        if hit is not None:
            at, level = hit
            if level > 0:
                notes.append(f"Note: {display} hunk {number} matched {LEVEL_NAMES[level]}.")
            fix = reindenter(ft.lines[at : at + len(old)], old) if level >= 2 else None
            return _Replacement(at, at + len(old), _new_records(variant, ft, at, fix), chunk)
    raise PatchApplyError(mismatch_error(display, number, chunk, ft, matcher, start))


def _new_records(
    ops: list[tuple[Op, str]], ft: FileText, at: int, fix: Callable[[str], str] | None
) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    k = at
    for op, text in ops:
        if op == " ":
            out.append((ft.lines[k], ft.crlf[k]))  # the file's own line, bytes untouched
            k += 1
        elif op == "-":
            k += 1
        elif op == "+":
            out.append((fix(text) if fix else text, ft.dominant_crlf))
    return out


def _rebuild(ft: FileText, repls: list[_Replacement]) -> FileText:
    lines = list(zip(ft.lines, ft.crlf, strict=True))
    eol = ft.eol
    for r in reversed(repls):
        lines[r.start : r.end] = r.lines
    for r in repls:
        # git's "\ No newline at end of file" only means something for a hunk reaching the end.
        if r.end == len(ft.lines):
            if r.chunk.new_no_eol:
                eol = False
            elif r.chunk.old_no_eol:
                eol = True
    return FileText([t for t, _ in lines], [c for _, c in lines], eol, ft.dominant_crlf)


# -- writing -------------------------------------------------------------------------------


def commit(plan: PlannedPatch) -> None:
    """Write the planned changes through fd walks that follow no symlink. On any failure (the
    disk, or a folder swapped for a link half-way), put back what was written and raise."""
    fs = plan.fs
    try:
        saved = {path: fs.save(plan.where[path]) for path in plan.writes}
    except (OSError, UnsafePath) as exc:
        raise PatchApplyError(f"{_reason(exc)}; no files were changed") from exc
    done: list[Path] = []
    created: list[Located] = []
    # Deletes first, so a patch may replace a file by a directory of the same name.
    order = [p for p, t in plan.writes.items() if t is None]
    order += [p for p, t in plan.writes.items() if t is not None]
    try:
        for path in order:
            done.append(path)
            text = plan.writes[path]
            if text is None:
                fs.unlink(plan.where[path], missing_ok=True)
            else:
                data = text.encode("utf-8", "surrogateescape")
                fs.write_atomic(plan.where[path], data, plan.modes.get(path), created)
    except (OSError, UnsafePath) as exc:
        stuck = _roll_back(fs, [(plan.where[p], saved[p]) for p in reversed(done)], created)
        if not stuck:
            raise PatchApplyError(
                f"writing {path} failed: {_reason(exc)}; no files were changed"
            ) from exc
        raise PatchApplyError(
            f"writing {path} failed: {_reason(exc)}. The patch was stopped and the files "
            f"written so far put back, except {len(stuck)} in a folder that changed while the "
            f"patch was applied ({', '.join(str(p) for p in stuck[:3])}); check them with git",
            unchanged=False,
        ) from exc


def _roll_back(
    fs: Beneath, undo: list[tuple[Located, Saved | None]], made: list[Located]
) -> list[Path]:
    """Put back what was written, as far as the fd walks reach; the paths that stay changed."""
    stuck: list[Path] = []
    for loc, saved in undo:
        try:
            fs.restore(loc, saved)
        except (OSError, UnsafePath):
            stuck.append(loc.path)
    for folder in reversed(made):
        with suppress(OSError, UnsafePath):
            fs.rmdir(folder)
    return stuck
