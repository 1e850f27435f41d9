"""macOS Seatbelt: a profile for `sandbox-exec -p PROFILE -DNAME=VALUE... -- CMD`.

Deny by default; allow running programs, reading everything, writing the harmless devices, and
writing under each writable root except its `.git` / `.lever` (paths travel as `-D` parameters,
so no path is ever spliced into the profile text). Network is denied unless the policy enables
it. Signals and process inspection are limited to the sandbox's own processes.

Written and unit-tested as text only: it cannot run on the Linux machines lever is built on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lever.sandbox.base import SandboxPolicy
from lever.sandbox.landlock import PROTECTED_NAMES, inside_protected

SANDBOX_EXEC = "/usr/bin/sandbox-exec"

_BASE = """\
(version 1)
(deny default)
; programs run and fork; only the sandbox's own processes can be signalled or inspected
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
; reading is allowed everywhere
(allow file-read*)
(allow file-write-data
  (require-all (vnode-type CHARACTER-DEVICE)
    (literal "/dev/null" "/dev/zero" "/dev/dtracehelper")))
(allow file-ioctl (literal "/dev/null" "/dev/zero" "/dev/tty"))
; what ordinary tools need from the system
(allow sysctl-read)
(allow mach-lookup
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.logd")
  (global-name "com.apple.system.logger"))
(allow ipc-posix-sem)
(allow ipc-posix-shm-read-data)
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx") (regex #"^/dev/ttys[0-9]+$"))
(allow system-socket (socket-domain AF_UNIX))
(allow network-outbound (remote unix-socket))
"""

_NETWORK = """\
; network enabled by the policy
(allow network-outbound)
(allow network-inbound)
(allow network-bind)
(allow system-socket)
(allow mach-lookup (global-name "com.apple.dnssd.service")
  (global-name "com.apple.SystemConfiguration.configd")
  (global-name "com.apple.trustd.agent"))
"""


def writable_roots(policy: SandboxPolicy, cwd: Path, tmp_dir: Path | None) -> list[Path]:
    if policy.mode != "workspace-write":
        return []
    roots = [cwd, *policy.writable_roots]
    if tmp_dir is not None:
        roots.append(tmp_dir)
    unique: list[Path] = []
    for root in roots:
        resolved = Path(root).resolve()  # Seatbelt matches real paths (/private/var, …)
        if resolved not in unique and not inside_protected(str(resolved)):
            unique.append(resolved)
    return unique


def profile(policy: SandboxPolicy, roots: Sequence[Path]) -> tuple[str, dict[str, str]]:
    """The profile text and its `-D` parameters for `roots` (already resolved)."""
    params: dict[str, str] = {}
    clauses: list[str] = []
    for i, root in enumerate(roots):
        name = f"WRITABLE_ROOT_{i}"
        params[name] = str(root)
        excluded = []
        for j, protected in enumerate(PROTECTED_NAMES):
            sub = f"{name}_RO_{j}"
            params[sub] = str(root / protected)
            excluded.append(f'(require-not (subpath (param "{sub}")))')
        clauses.append(f'(require-all (subpath (param "{name}")) {" ".join(excluded)})')
    text = _BASE
    if clauses:
        text += "; writable roots, minus their .git and .lever\n"
        text += "(allow file-write*\n  " + "\n  ".join(clauses) + ")\n"
    if policy.network:
        text += _NETWORK
    return text, params


class SeatbeltSandbox:
    name = "seatbelt"
    available = True

    def __init__(
        self,
        policy: SandboxPolicy,
        *,
        sandbox_exec: str = SANDBOX_EXEC,
        tmp_dir: Path | None = None,
    ) -> None:
        self.policy = policy
        self.sandbox_exec = sandbox_exec
        self.tmp_dir = tmp_dir

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        text, params = profile(self.policy, writable_roots(self.policy, cwd, self.tmp_dir))
        defines = [f"-D{name}={value}" for name, value in params.items()]
        command = list(argv)
        if self.tmp_dir is not None and self.policy.mode == "workspace-write":
            # sandbox-exec cannot set variables: point TMPDIR at the writable private dir.
            command = ["/usr/bin/env", f"TMPDIR={self.tmp_dir}", *command]
        return [self.sandbox_exec, "-p", text, *defines, "--", *command]
