"""`python -I -S -c BOOT LEVER_DIR --policy JSON -- CMD ARGS...` (bubblewrap).

Inside bubblewrap, installs the seccomp filter (seccomp.py) and execs CMD. bubblewrap's
namespaces already cover most of what the filter refuses under Landlock, but not all: the
kernel keyring is shared with the host, a unix socket anywhere on the read-only file system
can be connected to, and a terminal fd can be handed in. The filter closes those the same way
under both mechanisms.

Policy: {"network": bool, "unix_sockets": bool, "socket_places"?: [folders]}. With
`socket_places` (lever's bubblewrap sandbox), commands may make stream unix sockets: the
launcher forks the command with a seccomp listener, keeps it, and answers each connect()
(notify_connect.py): a path socket is reachable only when it lies in one of those folders (the
writable roots and the private temp dir), never one of the host's. Any failure is fatal (exit
125), as in confine_exec: a command never runs half-confined.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_FILTER_FAILED = 125


def filter_argv(policy: dict[str, Any]) -> list[str]:
    """The argv prefix that runs a command under the filter for `policy`."""
    from lever.sandbox.launcher_home import launcher_prefix

    # Inside bubblewrap the host's /tmp is not visible: lever's code is used where it is, but
    # with no `site` (no .pth file runs) and the real interpreter (see launcher_home).
    return [
        *launcher_prefix("filter_exec", ()),
        "--policy",
        json.dumps(policy, separators=(",", ":")),
        "--",
    ]


def _install(policy: dict[str, Any]) -> int | None:
    from lever.sandbox import seccomp

    return seccomp.install(
        network=bool(policy.get("network")),
        read_only=False,  # bubblewrap's read-only binds refuse metadata changes already
        unix_sockets=bool(policy.get("unix_sockets")),
        supervised_unix="socket_places" in policy,
    )


def _exec(command: Sequence[str]) -> int:
    try:
        os.execvp(command[0], list(command))
    except OSError as exc:
        print(f"lever sandbox: {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 0  # unreachable: execvp does not return


def _child(policy: dict[str, Any], command: Sequence[str], ready_w: int, ack_r: int) -> int:
    try:
        listener = _install(policy)
    except (OSError, ValueError) as exc:
        print(f"lever sandbox: cannot filter the command: {exc}", file=sys.stderr)
        return EXIT_FILTER_FAILED
    os.write(ready_w, str(listener).encode())
    os.close(ready_w)
    os.read(ack_r, 1)  # the supervisor holds its copy: the command never gets one
    if listener is not None:
        os.close(listener)
    return _exec(command)


def _forward(child: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: waitpid will say so
        os.kill(child, signum)


def supervise(policy: dict[str, Any], command: Sequence[str]) -> int:
    """Fork the command (filtered, with a seccomp listener) and answer its connect() calls."""
    import ctypes
    import signal

    from lever.sandbox import notify, reaper, seccomp

    ready_r, ready_w = os.pipe()
    ack_r, ack_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = EXIT_FILTER_FAILED
        try:
            os.close(ready_r)
            os.close(ack_w)
            code = _child(policy, command, ready_w, ack_r)
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(ack_r)
    # Not dumpable: a command cannot ptrace its unfiltered supervisor (whatever Yama says).
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: _forward(child, signum))
    pidfd = os.pidfd_open(child)
    ready = b""
    while chunk := os.read(ready_r, 64):
        ready += chunk
    listener = notify.pidfd_getfd(pidfd, int(ready)) if ready.isdigit() else None
    with contextlib.suppress(BrokenPipeError):  # the child failed and is gone
        os.write(ack_w, b"x")
    if listener is not None:
        arch = seccomp.current_arch()
        names = {arch.nr["connect"]: "connect"}
        notify.serve(listener, pidfd, names, notify.Rules(policy["socket_places"], []))
    _, status = os.waitpid(child, 0)
    return reaper.exit_like(status)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if len(args) < 4 or args[0] != "--policy" or args[2] != "--":
        print("usage: filter_exec --policy JSON -- CMD [ARGS...]", file=sys.stderr)
        return 2
    try:
        policy = json.loads(args[1])
    except ValueError as exc:
        print(f"lever sandbox: cannot filter the command: {exc}", file=sys.stderr)
        return EXIT_FILTER_FAILED
    if "socket_places" in policy and not policy.get("unix_sockets"):
        return supervise(policy, args[3:])
    try:
        _install(policy)
    except (OSError, ValueError) as exc:
        print(f"lever sandbox: cannot filter the command: {exc}", file=sys.stderr)
        return EXIT_FILTER_FAILED
    return _exec(args[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
