"""What in a `.git` / `.lever` is protected: names shared by protect_state.py (the check-and-
restore around commands) and notify.py (metadata calls under Landlock).

Kept free of imports: the Landlock launcher's supervisor loads it before every command.
"""

from __future__ import annotations

PROTECTED_NAMES = (".git", ".lever")
#: Entries of a git dir that git itself rewrites as it works; nothing git runs or reads as
#: configuration. Everything else in a git dir is protected.
GIT_DATA = (
    "objects",
    "refs",
    "logs",
    "index",
    "index.*",
    "sharedindex.*",
    "*.lock",
    "HEAD",
    "ORIG_HEAD",
    "FETCH_HEAD",
    "MERGE_HEAD",
    "MERGE_MSG",
    "MERGE_MODE",
    "MERGE_RR",
    "AUTO_MERGE",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "REBASE_HEAD",
    "BISECT_*",
    "NOTES_MERGE_*",
    "COMMIT_EDITMSG",
    "TAG_EDITMSG",
    "SQUASH_MSG",
    "packed-refs",
    "shallow",
    "description",
    "rr-cache",
    "lfs",
    "gc.pid",
    "gc.log",
    "gitk.cache",
    "fsmonitor--daemon*",
)


def _matches(pattern: str, name: str) -> bool:
    """fnmatch for GIT_DATA's patterns (at most one `*`), without importing re."""
    if "*" not in pattern:
        return name == pattern
    head, tail = pattern.split("*", 1)
    return len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail)


def is_git_data(name: str) -> bool:
    return any(_matches(pattern, name) for pattern in GIT_DATA)


def metadata_protected(rel: str) -> bool:
    """Whether a chmod/chown/utime/xattr change at `rel` (a path under a writable root) touches
    protected state: `.lever` and everything in it, a `.git` itself, and anything in a git dir
    but its data (a hook made executable, a config's mode)."""
    parts = [p for p in rel.split("/") if p]
    for i, part in enumerate(parts):
        if part == ".lever":
            return True
        if part == ".git" and (i + 1 == len(parts) or not is_git_data(parts[i + 1])):
            return True
    return False
