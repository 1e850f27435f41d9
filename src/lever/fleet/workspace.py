"""Where attempts work: a git worktree on its own branch, or a copy of a folder without git.

Every attempt starts from the same snapshot of the person's tree: HEAD plus the uncommitted
changes (`git diff HEAD --binary`, applied in the worktree) plus the untracked files (copied).
That state is staged and written as a tree object (`git write-tree`), the attempt's *base*: the
attempt's diff is `git diff --cached BASE` after staging everything the agent changed, so the
carried-over changes never count as the attempt's work. A copy gets a git directory of its own
outside the copy (the agent sees no `.git`), used the same way.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: lever's own workspace files (the plan) are no part of an attempt's result.
_NOT_WORK = ":(exclude,glob)**/.lever/**"


class WorkspaceError(RuntimeError):
    """A git command failed while preparing or reading a workspace."""


@dataclass(frozen=True)
class Source:
    """The person's folder a run starts from."""

    root: Path  # the repository's top level, or the folder itself
    git: bool
    head: str | None
    #: Where the agent works, relative to `root` (the run was started in a subfolder).
    cwd_rel: str


@dataclass(frozen=True)
class Workspace:
    """One attempt's tree. `git_dir` is set for copies (their git directory lives outside)."""

    path: Path
    branch: str | None
    git_dir: Path | None = None

    def git(self, *args: str, stdin: bytes | None = None) -> str:
        if self.git_dir is not None:
            return git(
                None,
                "--git-dir",
                str(self.git_dir),
                "--work-tree",
                str(self.path),
                *args,
                stdin=stdin,
            )
        return git(self.path, *args, stdin=stdin)


@dataclass(frozen=True)
class DiffStat:
    files: int = 0
    added: int = 0
    removed: int = 0

    @property
    def lines(self) -> int:
        return self.added + self.removed


def git(cwd: Path | None, *args: str, stdin: bytes | None = None) -> str:
    """Run git (no pager, no prompts); its stdout, or WorkspaceError with its stderr."""
    argv = ["git", *(("-C", str(cwd)) if cwd else ()), *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise WorkspaceError(f"git {' '.join(args[:2])}: {message}")
    return done.stdout.decode(errors="replace")


def inspect(folder: Path) -> Source:
    folder = folder.resolve()
    try:
        top = Path(git(folder, "rev-parse", "--show-toplevel").strip()).resolve()
        head = git(folder, "rev-parse", "--verify", "-q", "HEAD").strip()
    except WorkspaceError:
        return Source(folder, git=False, head=None, cwd_rel=".")
    return Source(top, git=True, head=head, cwd_rel=str(folder.relative_to(top)))


def snapshot(source: Source, into: Path) -> None:
    """Save the uncommitted changes (`base.patch`) and untracked files (`untracked/`) once, so
    every attempt starts from the same state even if the person keeps editing."""
    into.mkdir(parents=True, exist_ok=True)
    if not source.git:
        return
    patch = subprocess.run(
        ["git", "-C", str(source.root), "diff", "HEAD", "--binary"],
        capture_output=True,
        check=True,
    ).stdout
    (into / "base.patch").write_bytes(patch)
    listed = git(source.root, "ls-files", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        _copy_entry(source.root / name, into / "untracked" / name)


def create(source: Source, snap: Path, path: Path, branch: str, git_dir: Path) -> Workspace:
    """Make the attempt's tree at `path`; returns it with its base tree written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if source.git:
        assert source.head is not None
        git(source.root, "worktree", "add", "-q", "-b", branch, str(path), source.head)
        ws = Workspace(path, branch)
        patch = snap / "base.patch"
        if patch.is_file() and patch.stat().st_size:
            ws.git("apply", "--binary", "--whitespace=nowarn", str(patch))
        untracked = snap / "untracked"
        if untracked.is_dir():
            shutil.copytree(untracked, path, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copytree(source.root, path, symlinks=True)
        ws = Workspace(path, None, git_dir)
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        git(None, "--git-dir", str(git_dir), "init", "-q")
    return ws


def base_tree(ws: Workspace) -> str:
    ws.git("add", "-A")
    return ws.git("write-tree").strip()


def diff(ws: Workspace, base: str) -> tuple[str, DiffStat]:
    """The attempt's changes against its base: the binary-safe patch and its size."""
    ws.git("add", "-A")
    text = ws.git("diff", "--cached", "--binary", base, "--", ".", _NOT_WORK)
    stat = DiffStat()
    for line in ws.git("diff", "--cached", "--numstat", base, "--", ".", _NOT_WORK).splitlines():
        added, removed, _ = line.split("\t", 2)
        stat = DiffStat(
            stat.files + 1,
            stat.added + (int(added) if added.isdigit() else 0),
            stat.removed + (int(removed) if removed.isdigit() else 0),
        )
    return text, stat


def remove(root: Path, is_git: bool, path: Path, branch: str | None) -> list[str]:
    """Remove a worktree (or copy) and its branch; what was removed, for the report."""
    removed = []
    if is_git and path.exists():
        try:
            git(root, "worktree", "remove", "--force", "--force", str(path))
        except WorkspaceError:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    if is_git and branch and git(root, "branch", "--list", branch).strip():
        git(root, "branch", "-D", "-q", branch)
        removed.append(branch)
    return removed


def _copy_entry(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        dst.symlink_to(src.readlink())
    elif src.is_file():
        shutil.copy2(src, dst)
