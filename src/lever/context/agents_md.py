"""AGENTS.md discovery: the standing instructions a person or a team keeps for the agent.

Order (earliest first): the global `$LEVER_HOME/AGENTS.md`, then every `AGENTS.md` from the
repository root down to the cwd. Later text is closer to the work and takes precedence, which the
rendered block tells the model. At any level `AGENTS.override.md` replaces `AGENTS.md` (an empty
override silences that level).

The text is data for the model only: nothing here (or anywhere) reads it as configuration, so a
repository cannot change the provider, the sandbox or the approval policy through it. A project
file is read beneath the repository root (`fs_beneath`): `AGENTS.md -> CLAUDE.md` works, but a
link a repository (or an earlier session's model) planted towards `~/.ssh/id_rsa` is ignored, so
lever never puts a file the sandbox hides into the model's prompt.

The total is capped at `max_bytes` of file content. The budget goes to the closest files first
(they take precedence, so they are the last thing to lose); what does not fit is cut or omitted
with a note, in the rendered text and in `ProjectDocs.notes`, naming the file and the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lever.sandbox.fs_beneath import Beneath, UnsafePath
from lever.sandbox.paths import PathOutsideRoots

DOC_NAME = "AGENTS.md"
OVERRIDE_NAME = "AGENTS.override.md"
DEFAULT_MAX_BYTES = 32_768

_HEADER = (
    "Instructions from AGENTS.md files, global first, then from the repository root down to "
    "the working directory; where they disagree, later files take precedence."
)


@dataclass(frozen=True)
class ProjectDoc:
    path: Path
    text: str
    #: Bytes of the file's text (surrounding blank space stripped); more than the text kept
    #: when the cap cut it.
    size: int
    #: The note shown after (or instead of) the text when the cap cut it, else "".
    note: str = ""

    @property
    def omitted(self) -> bool:
        return not self.text and bool(self.note)


@dataclass(frozen=True)
class ProjectDocs:
    docs: list[ProjectDoc] = field(default_factory=list)
    max_bytes: int = DEFAULT_MAX_BYTES

    @property
    def notes(self) -> list[str]:
        return [doc.note for doc in self.docs if doc.note]

    def render(self) -> str:
        """The exact text the model receives; "" when there is no AGENTS.md at all."""
        if not self.docs:
            return ""
        parts = ["<project_docs>", _HEADER]
        for doc in self.docs:
            parts.append("")
            parts.append(f"## {doc.path}")
            parts.append("")
            if doc.text:
                parts.append(doc.text)
            if doc.note:
                parts.append(doc.note)
        parts.append("</project_docs>")
        return "\n".join(parts)


def repo_root(cwd: Path) -> Path | None:
    """The nearest ancestor of `cwd` (itself included) holding `.git` (a folder, or a file in
    a worktree); None outside any repository."""
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return None


def doc_folders(cwd: Path) -> list[Path]:
    """The folders searched for AGENTS.md: repository root down to cwd (just cwd outside a repo)."""
    cwd = cwd.resolve()
    root = repo_root(cwd)
    if root is None:
        return [cwd]
    chain = [cwd]
    for parent in cwd.parents:
        if parent == root or root in parent.parents:
            chain.append(parent)
    return list(reversed(chain))


def _doc_at(folder: Path) -> Path | None:
    """The file that speaks for `folder`: the override if present, else AGENTS.md."""
    for name in (OVERRIDE_NAME, DOC_NAME):
        path = folder / name
        if path.is_file():
            return path
    return None


def _cut(data: bytes, limit: int) -> str:
    """The first `limit` bytes, backed off to a character boundary, decoded leniently."""
    if len(data) <= limit:
        return data.decode("utf-8", errors="replace")
    end = limit
    # A continuation byte at the cut means a character straddles it; keep it whole or not at all.
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end].decode("utf-8", errors="replace")


def _read(path: Path, top: Path | None) -> bytes | None:
    """The file's bytes; beneath `top` (following no link out of it) when given."""
    try:
        if top is None:
            return path.read_bytes()  # the person's own global file
        fs = Beneath([top])
        return fs.read_regular(fs.locate(path, top))[0]
    except (OSError, UnsafePath, PathOutsideRoots):
        return None  # unreadable, a race with a delete, or a link out: as if absent


def load_project_docs(cwd: Path, home: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> ProjectDocs:
    """Collect the AGENTS.md files that apply to `cwd`, in the order the model reads them."""
    found: list[tuple[Path, bytes]] = []
    seen: set[Path] = set()
    folders = doc_folders(cwd)
    for folder, top in [(home, None), *((f, folders[0]) for f in folders)]:
        path = _doc_at(folder)
        if path is None or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        data = _read(path, top)
        # Whitespace-only files say nothing; an empty override still silences its level.
        if data is not None and data.strip():
            found.append((path.resolve(), data.strip()))
    return ProjectDocs(_apply_cap(found, max_bytes), max_bytes)


def _apply_cap(found: list[tuple[Path, bytes]], max_bytes: int) -> list[ProjectDoc]:
    budget = max_bytes
    docs: list[ProjectDoc] = []
    # Closest first, so what takes precedence is what survives; reversed back at the end.
    for path, data in reversed(found):
        size = len(data)
        if size <= budget:
            docs.append(ProjectDoc(path, data.decode("utf-8", errors="replace"), size))
            budget -= size
            continue
        text = _cut(data, budget) if budget > 0 else ""
        kept = len(text.encode("utf-8", errors="replace"))
        budget = 0
        if text:
            note = (
                f"[lever: {path} was cut: kept the first {kept} of {size} bytes; "
                f"AGENTS.md files are capped at {max_bytes} bytes in total]"
            )
        else:
            note = (
                f"[lever: {path} ({size} bytes) was left out: AGENTS.md files are capped at "
                f"{max_bytes} bytes in total and closer files used it up]"
            )
        docs.append(ProjectDoc(path, text, size, note))
    return list(reversed(docs))
