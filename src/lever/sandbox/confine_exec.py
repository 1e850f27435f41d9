"""`python -I -S -c BOOT LEVER_DIR --policy JSON -- CMD ARGS...` (see launcher_home.py)

The launcher splits in two. Its unconfined parent enters a new user + PID namespace where the
kernel allows (pidns.py), forks, and then supervises: it fetches the seccomp listener from the
child (pidfd_getfd), drops its own capabilities and answers the child's chmod / chown / utime /
xattr calls (notify.py) until the child exits, then exits as the command did. The child (PID 1
of the namespace, with a fresh /proc, or else a subreaper) confines itself and runs CMD, which
inherits every restriction:

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

Only the standard library and lever's sandbox modules are imported (no pathlib, dataclasses,
re or socket): this runs before every sandboxed command, so its start-up time is the sandbox's
overhead.
"""

from __future__ import annotations

import contextlib
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


def confine(policy: dict[str, Any]) -> int | None:
    """Apply `policy` = {mode, writable_roots, network, tmpdir?} to this process; the seccomp
    listener fd for the supervisor (None in read-only mode, or where none can be made)."""
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
    read_only = mode == "read-only"
    options = {"network": network, "read_only": read_only, "unix_sockets": unix_sockets}
    try:
        listener = seccomp.install(**options, metadata="notify")
    except seccomp.SeccompError:
        # No listener (one already watches this process tree): metadata calls fail instead.
        listener = seccomp.install(**options, metadata="deny")
    if policy.get("tmpdir"):
        os.environ["TMPDIR"] = policy["tmpdir"]
    return listener


def _child(policy: dict[str, Any], command: Sequence[str], pid_ns: bool, pipes: _Pipes) -> int:
    """The command's side: confine, hand the listener over, run the command under the reaper."""
    from lever.sandbox import pidns, reaper  # imported before confining: nothing loads after

    pidns.die_with_parent()
    if pid_ns:
        pidns.mount_proc()  # where it fails, /proc stays the host's: the status says so
    try:
        listener = confine(policy)
    except (OSError, ValueError, KeyError) as exc:
        print(f"lever sandbox: cannot confine the command: {exc}", file=sys.stderr)
        return EXIT_CONFINE_FAILED
    os.write(pipes.ready_w, b"-" if listener is None else str(listener).encode())
    os.close(pipes.ready_w)
    if listener is not None:
        os.read(pipes.ack_r, 1)  # the supervisor holds its copy: the command never gets one
        os.close(listener)
    status = reaper.wait_status(command, pid_namespace=pid_ns)
    os.write(pipes.status_w, str(status).encode())
    return 0


class _Pipes:
    """ready: child -> launcher, the listener's fd number; ack: launcher -> child, fetched;
    status: child -> launcher, the command's wait status."""

    def __init__(self) -> None:
        self.ready_r, self.ready_w = os.pipe()
        self.ack_r, self.ack_w = os.pipe()
        self.status_r, self.status_w = os.pipe()

    def keep(self, side: str) -> None:
        """Close the other side's ends."""
        child = (self.ready_w, self.ack_r, self.status_w)
        parent = (self.ready_r, self.ack_w, self.status_r)
        for fd in parent if side == "child" else child:
            os.close(fd)


def _read_all(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 64):
        out += chunk
    return out


def _forward(child: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: waitpid will say so
        os.kill(child, signum)


def supervise(policy: dict[str, Any], command: Sequence[str]) -> int:
    """The launcher's unconfined side: start the confined child, answer its metadata calls."""
    import signal

    from lever.sandbox import notify, pidns, reaper, seccomp

    pid_ns = pidns.enter()
    pipes = _Pipes()
    child = os.fork()
    if child == 0:
        code = EXIT_CONFINE_FAILED
        try:
            pipes.keep("child")
            code = _child(policy, command, pid_ns, pipes)
        finally:
            os._exit(code)  # never back into the launcher's code
    pipes.keep("parent")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: _forward(child, signum))
    pidfd = os.pidfd_open(child)
    ready = _read_all(pipes.ready_r)
    if ready not in (b"", b"-"):
        listener = notify.pidfd_getfd(pidfd, int(ready))
        os.write(pipes.ack_w, b"x")
        drop_capabilities()  # what it does for the command, it does with the command's rights
        arch = seccomp.current_arch()
        names = {nr: name for name, nr in arch.nr.items() if name in seccomp.METADATA_CALLS}
        # Hidden credential places inside a writable root ($HOME as the workspace) too: a
        # chmod there could make a key readable by other users.
        protected = [*policy.get("protected", []), *policy.get("hidden", [])]
        rules = notify.Rules(policy.get("writable_roots", []), protected)
        notify.serve(listener, pidfd, names, rules)
    _, own = os.waitpid(child, 0)
    reported = _read_all(pipes.status_r)
    return reaper.exit_like(int(reported) if reported else own)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if len(args) < 4 or args[0] != "--policy" or args[2] != "--":
        print("usage: confine_exec --policy JSON -- CMD [ARGS...]", file=sys.stderr)
        return 2
    try:
        policy = json.loads(args[1])
        if policy["mode"] not in ("read-only", "workspace-write"):
            raise ValueError(f"confine_exec: unsupported mode {policy['mode']!r}")
    except (ValueError, KeyError, TypeError) as exc:
        print(f"lever sandbox: cannot confine the command: {exc}", file=sys.stderr)
        return EXIT_CONFINE_FAILED
    # Not exec: the launcher stays, as the command's supervisor and (below it) its reaper.
    return supervise(policy, args[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
