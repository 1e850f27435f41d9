"""The protected state of a root's `.git` / `.lever`, read cheaply (see protect.py).

What is protected: in a git dir everything but the data git rewrites as it works (`GIT_DATA`),
the same in the git dirs of submodules and linked worktrees, a git dir a `.git` symlink or
gitfile points to inside the root, all of `.lever/` but lever's own plan and notes, and whether
`.git` / `.lever` exist; and when lever itself runs from a virtualenv inside the root, the
top level of its site-packages and lever's package there. Contents are read only when an
entry's stat signature changed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lever.sandbox.protected import GIT_DATA, PROTECTED_NAMES

#: What `git gc` / `update-server-info` writes into a git dir's info/ (a list of refs).
INFO_DATA = ("refs",)
#: Files lever writes into `.lever/` itself (agent/memory.py): not a way to run code.
LEVER_OWN = ("plan.md", "notes.md")
#: Contents larger than this are not kept: such a file, when changed, is removed, not restored.
MAX_KEPT_BYTES = 4 << 20


@dataclass(frozen=True)
class Entry:
    kind: str  # "file", "dir", "link", "other"
    mode: int
    signature: tuple[int, ...]
    data: bytes | None = None  # file content (None when too large), or the link's target


State = dict[str, Entry]  # relative path under the root -> entry


def _signature(st: os.stat_result) -> tuple[int, ...]:
    # ctime cannot be set by a command (only by the kernel, to the current time): with the
    # inode it tells any change, even one that restored size and mtime.
    return (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def _is_git_data(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in GIT_DATA)


def _looks_like_git_dir(path: str) -> bool:
    return os.path.lexists(os.path.join(path, "HEAD")) or os.path.lexists(
        os.path.join(path, "commondir")
    )


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every protected entry under `root`, parents first."""
    for name in PROTECTED_NAMES:
        try:
            st = os.lstat(os.path.join(root, name))
        except OSError:
            continue
        yield name, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(root, name, "git" if name == ".git" else "plain", 0)
        elif name == ".git":
            yield from _walk_pointed(root)


def pointed_git_dir(root: str) -> str | None:
    """Where a `.git` symlink or gitfile ("gitdir: PATH") points, relative to `root`, when that
    is a folder inside it (None otherwise: one outside is not writable)."""
    path = os.path.join(root, ".git")
    target = None
    if os.path.islink(path):
        target = os.path.realpath(path)
    elif os.path.isfile(path) and os.path.getsize(path) < 4096:
        with contextlib.suppress(OSError, UnicodeDecodeError), open(path, encoding="utf-8") as f:
            line = f.readline().strip()
            if line.startswith("gitdir:"):
                target = os.path.realpath(os.path.join(root, line[7:].strip()))
    if target is None or not target.startswith(root.rstrip("/") + "/"):
        return None
    return os.path.relpath(target, root) if os.path.isdir(target) else None


def _walk_pointed(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """The git dir a `.git` symlink or gitfile points to inside the root is as writable as the
    root: it is protected too."""
    rel = pointed_git_dir(root)
    if rel is None or any(part in PROTECTED_NAMES for part in rel.split("/")):
        return  # nothing there, or already walked under .git
    yield rel, os.lstat(os.path.join(root, rel))
    yield from _walk_dir(root, rel, "git", 0)


def _walk_dir(root: str, rel: str, kind: str, depth: int) -> Iterator[tuple[str, os.stat_result]]:
    """`kind`: "git" (a git dir: its data skipped), "holder" (modules/ or worktrees/: the git
    dirs of submodules and linked worktrees, whose names may contain slashes), "info" (a git
    dir's info/: all but `INFO_DATA`), "plain"."""
    if depth > 40:  # a command cannot make lever recurse forever
        return
    try:
        names = sorted(os.listdir(os.path.join(root, rel)))
    except OSError:
        return
    for name in names:
        child = f"{rel}/{name}"
        if kind == "git" and _is_git_data(name):
            continue
        if kind == "info" and name in INFO_DATA:
            continue
        if rel == ".lever" and name in LEVER_OWN:
            continue
        try:
            st = os.lstat(os.path.join(root, child))
        except OSError:
            continue
        yield child, st
        if not stat.S_ISDIR(st.st_mode):
            continue
        if kind == "git":
            sub = {"modules": "holder", "worktrees": "holder", "info": "info"}.get(name, "plain")
        elif kind == "holder":
            sub = "git" if _looks_like_git_dir(os.path.join(root, child)) else "holder"
        else:
            sub = "plain"
        yield from _walk_dir(root, child, sub, depth + 1)


def _read(path: str, st: os.stat_result) -> bytes | None:
    if st.st_size > MAX_KEPT_BYTES:
        return None
    try:
        # O_NONBLOCK: a FIFO swapped in since the lstat must not hang lever.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(MAX_KEPT_BYTES + 1)[: MAX_KEPT_BYTES + 1]


def _walk_site(root: str, rel: str) -> Iterator[tuple[str, os.stat_result]]:
    """lever's own site-packages at `rel` under the root: every top-level entry (a `.pth` file,
    `sitecustomize`, a package shadowing one lever imports) and lever's package, whole."""
    try:
        names = sorted(os.listdir(os.path.join(root, rel)))
    except OSError:
        return
    for name in names:
        child = f"{rel}/{name}"
        try:
            st = os.lstat(os.path.join(root, child))
        except OSError:
            continue
        yield child, st
        if name == "lever" and stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(root, child, "plain", 1)


def read_state(root: str, previous: State | None = None, sites: Sequence[str] = ()) -> State:
    """The protected entries of `root` (and of lever's site-packages at `sites`, relative to
    it); contents reused from `previous` where unchanged."""
    state: State = {}
    walks = [_walk(root), *(_walk_site(root, rel) for rel in sites)]
    for rel, st in itertools.chain(*walks):
        sig = _signature(st)
        kind = _kind(st.st_mode)
        old = (previous or {}).get(rel)
        if old is not None and old.signature == sig:
            state[rel] = old
            continue
        data: bytes | None = None
        if kind == "file":
            data = _read(os.path.join(root, rel), st)
        elif kind == "link":
            with contextlib.suppress(OSError):
                data = os.fsencode(os.readlink(os.path.join(root, rel)))
        state[rel] = Entry(kind, stat.S_IMODE(st.st_mode), sig, data)
    return state


def differs(old: Entry, new: Entry) -> bool:
    if old.signature == new.signature:
        return False
    if old.kind != new.kind or old.mode != new.mode:
        return True
    if old.kind == "dir":
        return False  # its entries are compared one by one
    return old.data is None or new.data is None or old.data != new.data
