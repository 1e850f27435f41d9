"""The one path-confinement check: patches, the sandbox and the dashboard all use it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class PathOutsideRoots(ValueError):
    """A path resolves outside every writable root."""


def confine(path: str | Path, base: Path, roots: Iterable[Path]) -> Path:
    """Resolve `path` (relative to `base`) and return it if it lies inside one of `roots`.

    Symlinks are resolved, so a link pointing out of the workspace is refused too.
    """
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise PathOutsideRoots(f"{path} is outside the writable roots")
