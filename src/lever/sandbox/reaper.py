"""Nothing a sandboxed command starts outlives it (the Landlock mechanism's launcher).

bubblewrap runs each command as PID 1 of its own PID namespace: when it exits, the kernel kills
everything left in the namespace. Landlock has no such thing, and the process group lever
signals is easy to leave (`setsid sleep 1000 &`, a double fork): such a process would run on,
confined but unwatched, after the command and even after the session.

So the launcher does not exec the command: it becomes a child subreaper
(`PR_SET_CHILD_SUBREAPER`), forks the command and waits for it. Every process the command
starts, however it detaches (new session, new group, double fork), stays a descendant of the
launcher: orphans are re-parented to it, not to init. When the command exits, or lever stops
it (SIGTERM/SIGINT/SIGHUP), the launcher SIGKILLs all remaining descendants, found through
/proc, and exits with the command's status.

What it cannot catch: a process that leaves the launcher's subtree through something outside
the sandbox that starts processes on request (a user systemd, a tmux server, cron, `at`): the
sandbox keeps those out of reach (no unix sockets, read-only file system), and SIGKILL to the
launcher itself (lever's last resort after SIGTERM) leaves no time to clean up; escaped
descendants are then re-parented to the nearest subreaper or init.

Only cheap standard modules are imported: this runs before every sandboxed command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PR_SET_CHILD_SUBREAPER = 36
#: Rounds of kill-and-reap at the end: a descendant forking while being killed needs another.
KILL_ROUNDS = 50
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def descendants(pid: int) -> list[int]:
    """Living descendants of `pid`, from /proc (zombies are left to waitpid)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) >= 2 and fields[0] not in (b"Z", b"X"):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _reap_all() -> bool:
    """Reap finished children; False once there are none left at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def kill_descendants() -> None:
    """SIGKILL every process below this one, until none is left (or KILL_ROUNDS passed)."""
    me = os.getpid()
    for _ in range(KILL_ROUNDS):
        if not _reap_all():
            return
        remaining = descendants(me)
        if not remaining:
            _reap_all()
            return
        for pid in remaining:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Let the kernel deliver the kills before looking again.
        os.sched_yield()


def _exec_child(command: Sequence[str]) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(command[0], list(command))
    except OSError as exc:
        os.write(2, f"lever sandbox: {command[0]}: {exc.strerror}\n".encode())
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)


def wait_status(command: Sequence[str], *, pid_namespace: bool = False) -> int:
    """Run `command` as a child, wait for it, kill what it left behind; its wait status.

    `pid_namespace`: this process is PID 1 of the command's own PID namespace, whose processes
    the kernel kills when it exits; /proc may still be the host's, so it is not walked."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not pid_namespace and libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    child = os.fork()
    if child == 0:
        _exec_child(command)

    def stop(signum: int, frame: FrameType | None) -> None:
        # lever is stopping the command: pass the signal on, and kill everything else now,
        # before a SIGKILL to this launcher leaves no time to.
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)
        for pid in [] if pid_namespace else descendants(os.getpid()):
            if pid != child:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, stop)
    _, status = os.waitpid(child, 0)
    if not pid_namespace:
        kill_descendants()
    return status


def exit_like(status: int) -> int:
    """Exit as a process with wait status `status` did (dying of the same signal, if so)."""
    if os.WIFSIGNALED(status):
        # Die of the same signal, so lever sees what a shell would.
        died_of = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(died_of, signal.SIG_DFL)
        os.kill(os.getpid(), died_of)
        return 128 + died_of
    return os.waitstatus_to_exitcode(status)


def run(command: Sequence[str]) -> int:
    """Run `command` as a child, wait for it, kill what it left behind; its exit status."""
    return exit_like(wait_status(command))
