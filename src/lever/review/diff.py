"""Collect the diff a review looks at, with real git.

- uncommitted: staged + unstaged changes against HEAD, plus untracked files (as additions);
- base BRANCH: what HEAD adds since it left BRANCH (`merge-base BRANCH HEAD`..HEAD);
- commit SHA: the changes of one commit (against its first parent).

Besides the text, the files the diff touches and how many lines each has in its new version,
so findings can be checked against them (a deleted file has 0 lines).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: git's empty tree: the "parent" of a root commit, and HEAD of a repository with no commits.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

Mode = Literal["uncommitted", "base", "commit"]


class DiffError(Exception):
    """The diff cannot be collected (not a git repository, unknown branch or commit...)."""


@dataclass(frozen=True)
class DiffTarget:
    mode: Mode = "uncommitted"
    #: The branch for `base`, the commit for `commit`.
    ref: str | None = None


def target_for(base: str | None = None, commit: str | None = None) -> DiffTarget:
    """`--base BRANCH`, else `--commit SHA`, else the uncommitted changes."""
    if base:
        return DiffTarget("base", base)
    if commit:
        return DiffTarget("commit", commit)
    return DiffTarget("uncommitted")


def parse_target(words: list[str]) -> DiffTarget:
    """The target from words like `lever review`'s flags (`/review --base main` in the app)."""
    flags: dict[str, str | None] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--uncommitted":
            flags["uncommitted"] = None
        elif word in ("--base", "--commit") and rest and not rest[0].startswith("-"):
            flags[word[2:]] = rest.pop(0)
        else:
            raise DiffError(f"unexpected {word!r}: use --base BRANCH, --commit SHA or nothing")
    if len(flags) > 1:
        raise DiffError("--uncommitted, --base and --commit exclude each other")
    return target_for(flags.get("base"), flags.get("commit"))


@dataclass
class CollectedDiff:
    #: For people and the prompt: "uncommitted changes", "commit 1a2b3c4 (Fix add)", ...
    description: str
    text: str
    #: Path (relative to the repository root) -> lines in the new version (0: deleted).
    files: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.files and not self.text.strip()


def _git(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    command = ["git", "-c", "core.quotepath=false", *args]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as e:
        raise DiffError("git is not installed") from e
    if done.returncode not in ok:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise DiffError(f"git {' '.join(args)}: {message}")
    return done.stdout.decode(errors="replace")


def _try_rev(cwd: Path, rev: str) -> str | None:
    try:
        return _git(cwd, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except DiffError:
        return None


def count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


_DIFF_FLAGS = ("--no-color", "--no-ext-diff")


def repo_root(cwd: Path) -> Path:
    try:
        return Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    except DiffError as e:
        raise DiffError(f"{cwd} is not inside a git repository") from e


def collect_diff(cwd: Path, target: DiffTarget) -> CollectedDiff:
    root = repo_root(cwd)
    if target.mode == "uncommitted":
        return _uncommitted(root)
    if not target.ref:
        raise DiffError(f"--{target.mode} needs a {'branch' if target.mode == 'base' else 'SHA'}")
    if target.mode == "base":
        return _against_base(root, target.ref)
    return _commit(root, target.ref)


def _names(root: Path, *revs: str) -> list[str]:
    out = _git(root, "diff", "--name-only", "-z", *revs)
    return [name for name in out.split("\0") if name]


def _uncommitted(root: Path) -> CollectedDiff:
    head = _try_rev(root, "HEAD") or EMPTY_TREE
    text = _git(root, "diff", *_DIFF_FLAGS, head)
    names = _names(root, head)
    untracked = [
        name
        for name in _git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
        if name
    ]
    for name in untracked:
        # `--no-index` exits 1 when the files differ, which they always do here.
        text += _git(root, "diff", *_DIFF_FLAGS, "--no-index", "--", "/dev/null", name, ok=(0, 1))
    files = {name: _working_lines(root / name) for name in [*names, *untracked]}
    return CollectedDiff("uncommitted changes (staged, unstaged and untracked)", text, files)


def _working_lines(path: Path) -> int:
    try:
        return count_lines(path.read_text(encoding="utf-8", errors="replace"))
    except (FileNotFoundError, IsADirectoryError):
        return 0


def _lines_at(root: Path, rev: str, name: str) -> int:
    try:
        return count_lines(_git(root, "show", f"{rev}:{name}"))
    except DiffError:
        return 0  # deleted in that version


def _between(root: Path, old: str, new: str, description: str) -> CollectedDiff:
    text = _git(root, "diff", *_DIFF_FLAGS, old, new)
    files = {name: _lines_at(root, new, name) for name in _names(root, old, new)}
    return CollectedDiff(description, text, files)


def _against_base(root: Path, branch: str) -> CollectedDiff:
    if _try_rev(root, branch) is None:
        raise DiffError(f"no branch or commit named {branch!r}")
    head = _try_rev(root, "HEAD")
    if head is None:
        raise DiffError("the repository has no commits yet")
    base = _git(root, "merge-base", branch, "HEAD").strip()
    return _between(root, base, head, f"changes on HEAD since {branch} (merge-base {base[:10]})")


def _commit(root: Path, sha: str) -> CollectedDiff:
    commit = _try_rev(root, sha)
    if commit is None:
        raise DiffError(f"no commit named {sha!r}")
    parent = _try_rev(root, f"{commit}^") or EMPTY_TREE
    subject = _git(root, "log", "-1", "--format=%s", commit).strip()
    return _between(root, parent, commit, f"commit {commit[:10]} ({subject})")
