"""`python -I -S -c BOOT LEVER_DIR --policy JSON -- CMD ARGS...` (see launcher_home.py)

Confines itself, then execs CMD, which inherits every restriction:

1. drops all capabilities (bounding set, ambient, effective/permitted/inheritable), so a command
   run by root cannot load modules, reboot, change the host's network or clock, or bypass file
   permissions;
2. sets no_new_privs (no setuid gains; required by Landlock and seccomp for non-root);
3. applies the Landlock plan computed from the policy (see landlock.py);
4. installs the seccomp filter (see seccomp.py);
5. points TMPDIR at the sandbox's private temp dir, and execs.

Any failure is fatal (exit 125, message on stderr): a command never runs half-confined.
`-I` keeps the workspace (the command's cwd) off sys.path, so a `lever/` package in the
workspace cannot replace this launcher, and ignores PYTHON* variables; `-S` runs no `.pth` file;
the interpreter and lever's code come from outside the writable roots (launcher_home.py).

Only the standard library and the two sibling modules are imported: this runs before every
sandboxed command, so its start-up time is the sandbox's overhead.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_CONFINE_FAILED = 125

PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522


def launcher_argv(policy: dict[str, Any], argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` under `policy` (a JSON-able dict, see `confine`)."""
    from lever.sandbox.launcher_home import launcher_prefix

    # Not `-m` with the session's interpreter: see launcher_home (no site, nothing writable).
    roots = [str(root) for root in policy.get("writable_roots", [])]
    return [
        *launcher_prefix("confine_exec", roots),
        "--policy",
        json.dumps(policy, separators=(",", ":")),
        "--",
        *argv,
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    # The bounding set first: dropping from it needs CAP_SETPCAP, which capset removes below.
    # Without the bounding set, exec cannot hand root its capabilities back.
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err == 22:  # EINVAL: past the last capability this kernel knows
                break
            if err != 1:  # EPERM: we hold no CAP_SETPCAP, so nothing to drop either
                raise OSError(err, f"prctl(PR_CAPBSET_DROP, {cap}): {os.strerror(err)}")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def confine(policy: dict[str, Any]) -> None:
    """Apply `policy` = {mode, writable_roots, network, tmpdir?} to this process."""
    from lever.sandbox import landlock, seccomp

    mode = policy["mode"]
    if mode not in ("read-only", "workspace-write"):
        raise ValueError(f"confine_exec: unsupported mode {mode!r}")
    abi = landlock.abi_version()
    if abi < 1:
        reason = landlock.unavailable_reason() or "unknown reason"
        raise OSError(f"landlock unavailable: {reason}")
    roots = [str(root) for root in policy.get("writable_roots", [])]
    network = bool(policy.get("network", False))
    hidden, visible = policy.get("hidden", []), policy.get("visible", [])
    plan = landlock.plan_rules(abi, roots, network, hidden, visible)
    drop_capabilities()
    ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    landlock.apply(plan)
    unix_sockets = bool(policy.get("unix_sockets", False))
    seccomp.install(network=network, read_only=mode == "read-only", unix_sockets=unix_sockets)
    if policy.get("tmpdir"):
        os.environ["TMPDIR"] = policy["tmpdir"]


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if len(args) < 4 or args[0] != "--policy" or args[2] != "--":
        print("usage: confine_exec --policy JSON -- CMD [ARGS...]", file=sys.stderr)
        return 2
    from lever.sandbox import reaper  # imported before confining: nothing loads after

    try:
        confine(json.loads(args[1]))
    except (OSError, ValueError, KeyError) as exc:
        print(f"lever sandbox: cannot confine the command: {exc}", file=sys.stderr)
        return EXIT_CONFINE_FAILED
    # Not exec: the launcher stays as the command's subreaper, so nothing it starts outlives it.
    return reaper.run(args[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
