"""The one path-confinement check: patches, the shell's `workdir` and lever's own files use it.

Two stages. `inside_roots` is lexical: the path, made absolute against `base` and normalised
(`..` folded, no symlink looked at), must lie in a writable root; absolute paths elsewhere and
`../` escapes stop here. `confine` then resolves the symlinks of what exists, one component at a
time from a directory fd held open (`lever.sandbox.fs_beneath`), and refuses a link that leads out.
What lever then reads or writes is walked again the same way, never by path: a command running in
the background can swap a folder for a symlink at any moment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class PathOutsideRoots(ValueError):
    """A path resolves outside every writable root."""


def real_roots(roots: Iterable[Path]) -> tuple[Path, ...]:
    """The roots as real paths, outermost first (a path is walked from the outermost root that
    holds it, so a nested root that is itself a folder of another cannot be swapped under it)."""
    unique = dict.fromkeys(Path(os.path.realpath(root)) for root in roots)
    return tuple(sorted(unique, key=lambda root: len(root.parts)))


def absolute(path: str | Path, base: Path) -> Path:
    """`path` made absolute against the real `base` and normalised, without touching the disk."""
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path(os.path.realpath(base)) / candidate
    return Path(os.path.normpath(candidate))


def inside_roots(path: str | Path, base: Path, roots: Iterable[Path]) -> tuple[Path, Path]:
    """The lexical check: (the outermost root holding `path`, the normalised absolute path)."""
    normal = absolute(path, base)
    for root in real_roots(roots):
        if normal.is_relative_to(root):
            return root, normal
    raise PathOutsideRoots(f"{path} is outside the writable roots")


def confine(path: str | Path, base: Path, roots: Iterable[Path]) -> Path:
    """Resolve `path` (relative to `base`) and return it if it lies inside one of `roots`.

    Symlinks are resolved beneath the roots, so a link pointing out of the workspace is refused
    too. The result names the real file; to read or write it, use `fs_beneath.Beneath`, which
    walks it again without following anything.
    """
    from lever.sandbox.fs_beneath import Beneath

    return Beneath(roots).locate(path, base).path
