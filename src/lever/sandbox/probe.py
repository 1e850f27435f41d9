"""Which sandbox mechanism works on this machine: asked once per process, then cached.

Each candidate is tried for real (a trivial command run exactly as commands will be run), since
an installed bwrap can still fail (user namespaces disabled, a container without privileges)
and a kernel can have Landlock compiled in but disabled. Order: bubblewrap, Landlock + seccomp,
none on Linux; Seatbelt, none on macOS.

"Works" means confines: the probe command writes one file inside its workspace and tries one
outside; a mechanism is used only when the first exists afterwards and the second does not (a
fake `bwrap` that just runs the command is refused).

`LEVER_SANDBOX=landlock` (or `bwrap`, `seatbelt`; several separated by commas) narrows the
choice to those mechanisms, e.g. to test the Landlock path on a machine with bubblewrap. It can
only narrow: a value naming no mechanism leaves none, and commands are refused, never run
unconfined.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lever.sandbox.base import SandboxPolicy

PROBE_TIMEOUT_S = 10.0
SANDBOX_EXEC = "/usr/bin/sandbox-exec"
NARROW_ENV = "LEVER_SANDBOX"
KNOWN = ("bwrap", "landlock", "seatbelt")
NO_BWRAP = "no trusted bwrap is installed (apt install bubblewrap)"
#: Writes one file inside the workspace and tries one outside (the path in $1).
_PROBE_SCRIPT = 'echo ok > probe-inside; (echo escaped > "$1") 2>/dev/null; exit 0'


def hidden(mechanism: str) -> str | None:
    """Why `LEVER_SANDBOX` rules `mechanism` out, or None when it is allowed."""
    value = os.environ.get(NARROW_ENV, "").strip()
    if not value:
        return None
    allowed = {part.strip() for part in value.split(",")}
    if mechanism in allowed:
        return None
    if not allowed & set(KNOWN):
        return f"{NARROW_ENV}={value!r} names no mechanism ({', '.join(KNOWN)})"
    return f"not allowed by {NARROW_ENV}={value}"


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
        lines += [f"  {line}" for line in protection(self.mechanism)]
        lines += [f"  {name}: not used: {why}" for name, why in self.rejected.items()]
        return "\n".join(lines)


def protection(mechanism: str) -> list[str]:
    """What `mechanism` protects and how, one line per concern (for `lever sandbox --status`)."""
    from lever.sandbox.protect import SUMMARY

    if mechanism == "none":
        return [
            "commands cannot be confined: `lever exec` and `lever sandbox` refuse to run them "
            "(exit 6), interactive sessions ask before every command; "
            "--sandbox danger-full-access runs them unconfined",
        ]
    writable = (
        "workspace-write (default): the workspace, extra writable roots and a private temp dir "
        "are writable, the rest of the file system read-only; read-only: nothing writable"
    )
    if mechanism == "bwrap":
        git = (
            ".git and .lever: bound read-only in each writable root; one a command creates "
            "where none existed is removed after it; so is lever's own site-packages when it "
            "lies in a writable root"
        )
        net = "network: off unless enabled (own network namespace); own pid, ipc and uts namespaces"
    elif mechanism == "landlock":
        git = f".git and .lever (Landlock cannot deny inside a writable root): {SUMMARY}"
        net = "network: off unless enabled (seccomp refuses non-unix sockets; Landlock TCP rules)"
        extra = [
            "file metadata (chmod, chown, utime, xattrs): done by the launcher's supervisor "
            "(seccomp user notification) only inside the writable roots",
            _processes_line(),
        ]
        return [writable, git, net, *extra]
    else:
        git = ".git and .lever: denied by the profile in each writable root"
        net = "network: off unless enabled (denied by the profile)"
    return [writable, git, net]


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
    narrowed = hidden("seatbelt")
    if narrowed is not None:
        return SandboxStatus("none", "no sandbox mechanism", {"seatbelt": narrowed})
    if Path(SANDBOX_EXEC).exists():
        return SandboxStatus("seatbelt", f"Seatbelt profiles via {SANDBOX_EXEC}")
    return SandboxStatus("none", "no sandbox mechanism", {"seatbelt": f"{SANDBOX_EXEC} missing"})


def _confines(wrap: Callable[[list[str], Path], list[str]]) -> str | None:
    """None when the wrapped probe command wrote inside its workspace and not outside."""
    from lever.sandbox.bwrap import setup_raced

    with tempfile.TemporaryDirectory(prefix="lever-probe-") as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        outside = Path(tmp) / "outside"
        outside.mkdir()
        escaped = outside / "escaped"
        for attempt in range(2):
            argv = wrap(["sh", "-c", _PROBE_SCRIPT, "sh", str(escaped)], workspace)
            try:
                done = subprocess.run(
                    argv,
                    cwd=workspace,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=PROBE_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                return f"probe failed to start: {exc}"
            # A hidden folder that vanished before bubblewrap mounted over it is no verdict on
            # bubblewrap: wrapped again, the probe leaves it out.
            if attempt or not setup_raced(done.returncode, done.stderr):
                break
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            return f"probe exited {done.returncode}: {err[-1] if err else 'no message'}"
        if escaped.exists():
            return f"{argv[0]} does not confine: the probe wrote outside its workspace"
        if not (workspace / "probe-inside").exists():
            return f"{argv[0]} did not run the probe command in its workspace"
    return None


_bwrap_verdicts: dict[str, str | None] = {}
_landlock_verdict: list[str | None] = []


def bwrap_unusable(path: str | None = None) -> str | None:
    """Why bubblewrap (the trusted one, or `path`) cannot be used, or None when it confines."""
    from lever.sandbox.bwrap import BwrapSandbox, find_bwrap

    narrowed = hidden("bwrap")
    if narrowed is not None:
        return narrowed
    path = path or find_bwrap()
    if path is None:
        return NO_BWRAP
    if path not in _bwrap_verdicts:
        policy = SandboxPolicy(mode="workspace-write")

        def wrap(argv: list[str], workspace: Path) -> list[str]:
            return BwrapSandbox(policy, bwrap=path).wrap(argv, workspace, {})

        _bwrap_verdicts[path] = _confines(wrap)
    return _bwrap_verdicts[path]


def landlock_unusable() -> str | None:
    """Why Landlock + seccomp cannot be used here, or None when it confines."""
    from lever.sandbox import landlock
    from lever.sandbox.confine_exec import launcher_argv

    narrowed = hidden("landlock")
    if narrowed is not None:
        return narrowed
    reason = landlock.unavailable_reason()
    if reason is not None:
        return reason

    def wrap(argv: list[str], workspace: Path) -> list[str]:
        policy = {"mode": "workspace-write", "writable_roots": [str(workspace)], "network": False}
        return launcher_argv(policy, argv)

    if not _landlock_verdict:  # once per process: the kernel does not change meanwhile
        _landlock_verdict.append(_confines(wrap))
    return _landlock_verdict[0]


def _processes_line() -> str:
    if pid_namespace_works():
        return (
            "processes: own PID namespace with its own /proc (other processes are invisible; "
            "all die with the command)"
        )
    return (
        "processes: no PID namespace (unprivileged user namespaces are off here): other "
        "processes' command lines (/proc/PID/cmdline) are readable; the launcher still kills "
        "what a command leaves behind"
    )


_pidns_verdict: list[bool] = []


def pid_namespace_works() -> bool:
    """Whether the Landlock launcher gets its own PID namespace and /proc on this machine."""
    from lever.sandbox.confine_exec import launcher_argv

    if not _pidns_verdict:
        code = "import os; print(os.getpid(), os.readlink('/proc/self'))"
        argv = launcher_argv({"mode": "read-only", "network": False}, [sys.executable, "-c", code])
        try:
            out = subprocess.run(
                argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            out = []
        _pidns_verdict.append(out == ["2", "2"])
    return _pidns_verdict[0]


def _bwrap_details() -> str:
    from lever.sandbox.bwrap import find_bwrap

    return f"bubblewrap at {find_bwrap()}: namespaces, read-only /, writable binds"
