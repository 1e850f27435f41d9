"""Which sandbox mechanism works on this machine: asked once per process, then cached.

Each candidate is tried for real (a trivial command run exactly as commands will be run), since
an installed bwrap can still fail (user namespaces disabled, a container without privileges)
and a kernel can have Landlock compiled in but disabled. Order: bubblewrap, Landlock + seccomp,
none on Linux; Seatbelt, none on macOS.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lever.sandbox.base import SandboxPolicy

PROBE_TIMEOUT_S = 10.0
SANDBOX_EXEC = "/usr/bin/sandbox-exec"


@dataclass(frozen=True)
class SandboxStatus:
    """The chosen mechanism ("bwrap", "landlock", "seatbelt" or "none") and why."""

    mechanism: str
    details: str
    #: mechanism -> why it was not chosen (failed, missing, or a better one was found first)
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.mechanism != "none"

    def describe(self) -> str:
        lines = [f"sandbox mechanism: {self.mechanism} ({self.details})"]
        lines += [f"  {name}: not used: {why}" for name, why in self.rejected.items()]
        if not self.available:
            lines.append("  commands cannot be confined: every command needs approval")
        return "\n".join(lines)


_cached: SandboxStatus | None = None


def probe(*, refresh: bool = False) -> SandboxStatus:
    """The best working mechanism (cached for the process unless `refresh`)."""
    global _cached
    if _cached is None or refresh:
        _cached = _probe_darwin() if sys.platform == "darwin" else _probe_linux()
    return _cached


def _probe_linux() -> SandboxStatus:
    rejected: dict[str, str] = {}
    bwrap_problem = bwrap_unusable()
    if bwrap_problem is None:
        from lever.sandbox import landlock

        # Only the cheap syscall check: running the launcher would slow every start-up.
        reason = landlock.unavailable_reason()
        rejected["landlock"] = reason or (
            f"{landlock.describe(landlock.abi_version())} present, but bubblewrap is preferred"
        )
        return SandboxStatus("bwrap", _bwrap_details(), rejected)
    rejected["bwrap"] = bwrap_problem
    landlock_problem = landlock_unusable()
    if landlock_problem is None:
        from lever.sandbox import landlock

        return SandboxStatus("landlock", landlock.describe(landlock.abi_version()), rejected)
    rejected["landlock"] = landlock_problem
    return SandboxStatus("none", "no sandbox mechanism works on this machine", rejected)


def _probe_darwin() -> SandboxStatus:
    if Path(SANDBOX_EXEC).exists():
        return SandboxStatus("seatbelt", f"Seatbelt profiles via {SANDBOX_EXEC}")
    return SandboxStatus("none", "no sandbox mechanism", {"seatbelt": f"{SANDBOX_EXEC} missing"})


def _run_probe(argv: list[str], cwd: Path) -> str | None:
    """None if `argv` ran and exited 0, else a one-line reason."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"probe failed to start: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return f"probe exited {done.returncode}: {err[-1] if err else 'no message'}"
    return None


def bwrap_unusable() -> str | None:
    """Why bubblewrap cannot be used here, or None when a confined `true` ran."""
    from lever.sandbox.bwrap import BwrapSandbox, find_bwrap

    path = find_bwrap()
    if path is None:
        return "bwrap is not installed (apt install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="lever-probe-") as tmp:
        workspace = Path(tmp) / "ws"
        private_tmp = Path(tmp) / "tmp"
        workspace.mkdir()
        private_tmp.mkdir()
        policy = SandboxPolicy(mode="workspace-write")
        sandbox = BwrapSandbox(policy, bwrap=path, tmp_dir=private_tmp)
        return _run_probe(sandbox.wrap(["true"], workspace, {}), workspace)


def landlock_unusable() -> str | None:
    """Why Landlock + seccomp cannot be used here, or None when a confined `true` ran."""
    from lever.sandbox import landlock
    from lever.sandbox.confine_exec import launcher_argv

    reason = landlock.unavailable_reason()
    if reason is not None:
        return reason
    with tempfile.TemporaryDirectory(prefix="lever-probe-") as tmp:
        policy = {"mode": "workspace-write", "writable_roots": [tmp], "network": False}
        return _run_probe(launcher_argv(policy, ["true"]), Path(tmp))


def _bwrap_details() -> str:
    from lever.sandbox.bwrap import find_bwrap

    return f"bubblewrap at {find_bwrap()}: namespaces, read-only /, writable binds"
