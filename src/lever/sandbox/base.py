"""The `Sandbox` interface commands run through.

The foundation runs commands unsandboxed (`NoSandbox`); the sandbox issue adds bubblewrap,
Landlock and Seatbelt implementations behind this same interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SandboxPolicy:
    mode: str = "danger-full-access"  # read-only | workspace-write | danger-full-access
    writable_roots: tuple[Path, ...] = ()
    network: bool = False
    #: Credential places to leave readable (`[sandbox] allow_read`, see hidden.py).
    allow_read: tuple[str, ...] = ()
    #: Let commands create unix sockets (`[sandbox] unix_sockets`; Landlock: see seccomp.py).
    unix_sockets: bool = False
    #: lever's own files this session's commands may read though lever's home is hidden: the
    #: session's artifacts folder (full outputs of truncated commands).
    session_files: tuple[str, ...] = ()


class Sandbox(Protocol):
    name: str
    policy: SandboxPolicy

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        """Return the argv that runs `argv` confined by the policy."""
        ...


class NoSandbox:
    """Runs commands as they are. Used for `danger-full-access` and until a mechanism exists."""

    name = "none"

    def __init__(self, policy: SandboxPolicy | None = None) -> None:
        self.policy = policy or SandboxPolicy()

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        return list(argv)
