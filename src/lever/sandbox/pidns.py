"""A PID namespace with its own /proc for the Landlock launcher, where the kernel allows one.

Landlock does not hide other processes: without a PID namespace a command can read the command
lines of the user's other processes in /proc. Where unprivileged user namespaces work, the
launcher (confine_exec) enters a new user namespace (its own uid and gid mapped to themselves)
and makes its next child PID 1 of a new PID namespace; that child mounts a fresh /proc in its
own mount namespace before confining itself, so the command sees only its own processes, and
when the child exits the kernel kills everything left in the namespace.

Where user namespaces are off (Ubuntu 24.04's AppArmor default, some containers) the launcher
runs without: `lever sandbox --status` says so, and the subreaper (reaper.py) still kills what
a command leaves behind.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter() -> bool:
    """In the launcher, before forking the command's side: a new user namespace (same ids) and
    a new PID namespace for the next child. False (nothing changed) when the kernel refuses."""
    uid, gid = os.getuid(), os.getgid()
    if _libc().unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0:
        return False
    try:
        _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
        _write("/proc/self/setgroups", "deny\n")
        _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    except OSError:
        # Half set up: the ids stay unmapped (nobody); the child runs, but says so.
        return True
    return True


def mount_proc() -> bool:
    """In PID 1 of the new namespace: a private mount namespace with a fresh /proc."""
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    return bool(libc.mount(b"proc", b"/proc", b"proc", flags, None) == 0)


def die_with_parent() -> None:
    """SIGKILL this process when the launcher dies (and with it, as PID 1, the namespace)."""
    _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
