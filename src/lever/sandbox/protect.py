"""Keep `.git` and `.lever` as they were around sandboxed commands, where the mechanism cannot.

Landlock can only grant rights: a writable workspace makes everything beneath it writable,
`.git` included. Bubblewrap binds an existing `.git` / `.lever` read-only, but cannot cover one
that does not exist yet (a bind needs a mount point, and making one would create the folder).
So lever checks, around each sandboxed command, what a command could use to make code run
unconfined later (when the person runs git, or lever reads its project config):

- in a git dir: everything except the data git commands change as they work (objects, refs,
  logs, the index, HEAD and the other state files listed in `GIT_DATA`). That is hooks/,
  config, config.worktree, info/ (attributes, exclude), commondir, the rebase/sequencer state
  (a todo list can `exec`), and the same inside modules/* and worktrees/* (submodules' and
  linked worktrees' own git dirs);
- all of `.lever/` (project config, skills), except the plan and notes lever writes itself;
- whether `.git` / `.lever` exist at all: one created by a command is removed.

Before a command, the current state becomes the reference (the person or lever itself may
have changed it since), unless a command of the session may still run (in the background, or a
child a finished command left behind): then the earlier reference holds and anything changed
meanwhile is restored. After the command,
every difference from the reference is undone: content, mode bits, symlinks, new and deleted
files. Restoring never follows a symlink a command may have planted: it walks from a
directory fd with O_NOFOLLOW and replaces entries with rename/unlink relative to it.

Cost: one lstat per protected entry (a default `.git` has ~20); contents are read only when
their stat signature changed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lever.sandbox.protect_state import (
    PROTECTED_NAMES,
    Entry,
    State,
    differs,
    pointed_git_dir,
    read_state,
)

SUMMARY = (
    "the files git runs or reads configuration from (.git/hooks, .git/config, .git/info, "
    "the rebase state, and the same in .git/modules/* and .git/worktrees/*) and all of .lever "
    "are checked before and after each command and restored; a .git or .lever a command "
    "creates is removed; so is a new entry in lever's own site-packages (when lever runs from "
    "a virtualenv inside the workspace), whose lever package is restored"
)


@dataclass
class Restored:
    """What one check found changed and put back, as lines such as "restored .git/config"."""

    changes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def extend(self, other: Restored) -> None:
        self.changes.extend(other.changes)

    def note(self) -> str:
        """For the model, appended to the command's output."""
        listed = "; ".join(self.changes[:12])
        more = f"; and {len(self.changes) - 12} more" if len(self.changes) > 12 else ""
        return (
            f"\n[lever: .git and .lever are protected: sandboxed commands may not change the "
            f"files git runs or reads configuration from, nor lever's project files. Undone: "
            f"{listed}{more}. Change them only by asking the person.]\n"
        )

    def message(self) -> str:
        """For the person."""
        return "a sandboxed command changed protected files; lever undid it: " + "; ".join(
            self.changes
        )


# --- putting it back --------------------------------------------------------------------


class _Dirs:
    """Directory fds opened from the root without following symlinks."""

    def __init__(self, root: str) -> None:
        self.root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.fds: dict[str, int] = {"": self.root_fd}

    def parent(self, rel: str) -> tuple[int, str]:
        """(fd of the folder holding `rel`, its last name); raises OSError if unsafe."""
        head, _, name = rel.rpartition("/")
        if head not in self.fds:
            fd, up = self.parent(head)
            flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            self.fds[head] = os.open(up, flags, dir_fd=fd)
        return self.fds[head], name

    def forget(self, rel: str) -> None:
        """Drop the fds of a removed folder and everything under it."""
        for key in [k for k in self.fds if k == rel or k.startswith(f"{rel}/")]:
            os.close(self.fds.pop(key))

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def _remove(dirs: _Dirs, rel: str) -> None:
    fd, name = dirs.parent(rel)
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        # fd-based on Linux: a symlink swapped in below is removed, never followed.
        shutil.rmtree(name, dir_fd=fd)
    else:
        os.unlink(name, dir_fd=fd)
    dirs.forget(rel)


def _put(dirs: _Dirs, rel: str, entry: Entry) -> None:
    fd, name = dirs.parent(rel)
    if entry.kind == "dir":
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, entry.mode, dir_fd=fd)
        # fchmod on an fd opened without following links: never chmod a planted symlink's target.
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        opened = os.open(name, flags, dir_fd=fd)
        try:
            os.fchmod(opened, entry.mode)
        finally:
            os.close(opened)
        return
    temp = f".{name}.lever-restore"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp, dir_fd=fd)
    if entry.kind == "link":
        os.symlink(os.fsdecode(entry.data or b""), temp, dir_fd=fd)
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        out = os.open(temp, flags, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as handle:
            handle.write(entry.data or b"")
            os.fchmod(out, entry.mode)
    # rename replaces whatever is there now (file or symlink) without following it.
    os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)


def _candidates(root: str, name: str) -> list[str]:
    """Where a renamed `.git` / `.lever` may be: the root's top level, and the folder a new
    `.git` symlink or gitfile points to."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        found = sorted(entry for entry in os.listdir(root) if entry != name)
    pointed = pointed_git_dir(root) if name == ".git" else None
    return [pointed, *found] if pointed else found


def _moved_back(root: str, reference: State, current: State) -> list[str]:
    """A `.git` / `.lever` the command renamed (`mv .git old`) is renamed back, objects and all
    (a copy would only bring back the protected files)."""
    lines: list[str] = []
    for name in PROTECTED_NAMES:
        old = reference.get(name)
        if old is None or old.kind != "dir":
            continue
        now = current.get(name)
        if now is not None and now.signature[0] == old.signature[0]:
            continue
        for candidate in _candidates(root, name):
            try:
                st = os.lstat(os.path.join(root, candidate))
            except OSError:
                continue
            if st.st_ino == old.signature[0] and stat.S_ISDIR(st.st_mode):
                dirs = _Dirs(root)
                try:
                    _remove(dirs, name)
                    os.rename(candidate, name, src_dir_fd=dirs.root_fd, dst_dir_fd=dirs.root_fd)
                finally:
                    dirs.close()
                lines.append(f"moved {candidate} back to {name} (renamed by the command)")
                break
    return lines


def restore(
    root: str, reference: State, current: State, reread: Callable[[str], State] | None = None
) -> Restored:
    """Make `root`'s protected entries what `reference` says; report each change undone.

    `.git` / `.lever` themselves first (renamed back, or put back as file, link or folder),
    then the state is read again: a `.git` gitfile or symlink decides which git dir is walked.
    """
    done = Restored(_moved_back(root, reference, current))
    tops = {name for name in PROTECTED_NAMES if name in reference or name in current}
    _undo(done, root, reference, current, only=tops)
    if done:
        current = reread(root) if reread is not None else read_state(root, reference)
    _undo(done, root, reference, current, only=None)
    return done


def _undo(
    done: Restored, root: str, reference: State, current: State, only: set[str] | None
) -> None:
    def wanted(rel: str) -> bool:
        return only is None or rel in only

    gone = [r for r in current if r not in reference and wanted(r)]
    changed = [
        r for r in reference if r in current and wanted(r) and differs(reference[r], current[r])
    ]
    missing = [r for r in reference if r not in current and wanted(r)]
    if not (gone or changed or missing):
        return
    dirs = _Dirs(root)
    try:
        for rel in sorted(gone, key=lambda r: -r.count("/")):
            if not any(rel.startswith(f"{other}/") for other in gone):
                _attempt(done, rel, "removed {} (created by the command)", _remove, dirs)
        for rel in sorted(changed + missing, key=lambda r: r.count("/")):
            _put_back(done, dirs, rel, reference[rel], current.get(rel))
    finally:
        dirs.close()


def _put_back(done: Restored, dirs: _Dirs, rel: str, old: Entry, now: Entry | None) -> None:
    if old.kind == "other":
        return  # a socket or FIFO: nothing to put back
    if now is not None and now.kind != old.kind:
        _attempt(done, rel, "", _remove, dirs)
    if old.kind == "file" and old.data is None:
        if now is not None:
            _attempt(done, rel, "removed {} (changed; too large to restore)", _remove, dirs)
        else:
            done.changes.append(f"could not restore {rel} (deleted; too large to keep)")
        return
    what = "deleted" if now is None else "changed"
    _attempt(done, rel, f"restored {{}} ({what} by the command)", _put, dirs, old)


def _attempt(done: Restored, rel: str, line: str, action: Callable[..., None], *args: Any) -> None:
    dirs, *rest = args
    try:
        action(dirs, rel, *rest)
    except OSError as exc:
        done.changes.append(f"could not undo the change to {rel}: {exc.strerror or exc}")
        return
    if line:
        done.changes.append(line.format(rel))


# --- around commands --------------------------------------------------------------------


class Protector:
    """The reference state of each root's `.git` / `.lever`, kept for one session's sandbox."""

    def __init__(self, roots: Sequence[Path] = (), sites: Sequence[str] = ()) -> None:
        self.extra_roots = tuple(roots)
        self.reference: dict[str, State] = {}
        #: lever's own site-packages folders (launcher_home.own_sites): protected where they lie
        #: inside a root, since a `.pth` file there runs unconfined when lever next starts.
        self.sites = tuple(os.path.realpath(site) for site in sites)

    def _read(self, root: str) -> State:
        inside = [s for s in self.sites if s.startswith(root.rstrip("/") + "/")]
        rels = [os.path.relpath(site, root) for site in inside]
        return read_state(root, self.reference.get(root), rels)

    def roots_for(self, cwd: Path) -> list[str]:
        """The command's folder and the sandbox's writable roots, each once."""
        unique: list[str] = []
        for root in (cwd, *self.extra_roots):
            resolved = os.path.realpath(root)
            parts = resolved.split(os.sep)
            if resolved not in unique and not any(p in PROTECTED_NAMES for p in parts):
                unique.append(resolved)
        return unique

    def before(self, cwd: Path, *, background: bool) -> Restored:
        """Before a sandboxed command: take the reference, or (while a sandboxed command runs
        in the background, and could have changed things since) restore the last one."""
        done = Restored()
        for root in self.roots_for(cwd):
            current = self._read(root)
            if background and root in self.reference:
                done.extend(restore(root, self.reference[root], current))
            else:
                self.reference[root] = current
        return done

    def check(self) -> Restored:
        """After a command, and on each look at a background one: undo every difference."""
        done = Restored()
        for root, reference in self.reference.items():
            current = self._read(root)
            done.extend(restore(root, reference, current, self._read))
        return done

    def accept(self, cwd: Path) -> None:
        """The current state is the reference (after a command a person let run outside)."""
        for root in self.roots_for(cwd):
            self.reference[root] = self._read(root)


def protector_of(sandbox: object) -> Protector | None:
    """The sandbox's protector, if its mechanism needs one (Landlock, bubblewrap)."""
    protector = getattr(sandbox, "protector", None)
    return protector if isinstance(protector, Protector) else None


Emit = Callable[[Any], None]


def before_command(
    sandbox: object, cwd: Path, emit: Emit, *, background: bool, outside: bool
) -> str:
    """Call before starting a command (`background`: some command of the session still runs).
    Returns the note for the model about anything undone ("" when nothing)."""
    protector = protector_of(sandbox)
    if protector is None or outside:
        return ""
    return report(protector.before(cwd, background=background), emit)


def after_command(sandbox: object, cwd: Path, emit: Emit, *, outside: bool) -> str:
    """Call after a command returned (finished or went to the background): undoes what it did
    to protected files, tells the person (an event), and returns the note for the model ("" when
    nothing was changed). A command run outside the sandbox with a person's yes is accepted."""
    protector = protector_of(sandbox)
    if protector is None:
        return ""
    if outside:
        protector.accept(cwd)
        return ""
    return report(protector.check(), emit)


def check_now(sandbox: object, emit: Emit) -> str:
    """Call when looking at a background command: the same as `after_command`."""
    protector = protector_of(sandbox)
    return report(protector.check(), emit) if protector is not None else ""


def report(done: Restored, emit: Emit) -> str:
    if not done:
        return ""
    from lever.protocol.events import ErrorEvent

    emit(ErrorEvent(kind="sandbox_protected", message=done.message()))
    return done.note()
