"""connect() under bubblewrap's supervisor (filter_exec): unix sockets made inside the sandbox.

bubblewrap hides the usual socket places (fresh /tmp, /run, $XDG_RUNTIME_DIR), but a path unix
socket anywhere else on the read-only file system can still be connected to (a read-only mount
does not stop connect). So commands may create stream unix sockets (multiprocessing, a
database server in the workspace) while every connect() goes to the supervisor:

- a socket of another family (TCP, when the network is on): the kernel goes ahead
  (SECCOMP_USER_NOTIF_FLAG_CONTINUE) — safe, since a socket's family is fixed at creation and
  the address it will read again cannot make an inet socket reach a path;
- an abstract unix address: the supervisor connects the caller's socket to the copied address
  — abstract sockets live in the network namespace, bubblewrap's own, which the supervisor
  shares (it never runs this for Landlock);
- a path unix address: the supervisor copies it, resolves it from the caller's cwd into an
  O_PATH fd of its own, allows it only when that socket inode lies inside a writable root or a
  place bubblewrap made fresh (/tmp), and connects the caller's socket itself — fetched with
  pidfd_getfd — through /proc/self/fd/N, so the socket it checked is the one connected.

Unix datagram sockets stay refused by the seccomp filter (sendto could address any path).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
from typing import TYPE_CHECKING

from lever.sandbox.notify import AT_FDCWD, Refused, check, libc, pidfd_getfd

if TYPE_CHECKING:
    from lever.sandbox.notify import Call, Rules

AF_UNIX = 1
SUN_PATH_OFFSET = 2
SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage)
SOL_SOCKET, SO_DOMAIN = 1, 39
#: Not an errno: tells `answer` to let the kernel perform the call.
CONTINUE = -1


def _caller_socket(call: Call, fd: int) -> int:
    """The caller's socket `fd`, as an fd of ours (the same open socket)."""
    try:
        pidfd = os.pidfd_open(call.pid)
    except OSError as exc:
        raise Refused(errno.ESRCH) from exc
    try:
        call.still_valid()  # the pidfd is of the caller, not of a process that reused its pid
        try:
            own = pidfd_getfd(pidfd, fd)
        except OSError as exc:
            raise Refused(errno.EBADF if exc.errno == errno.EBADF else errno.EPERM) from exc
    finally:
        os.close(pidfd)
    call.fds.append(own)
    return own


def _domain(sock: int) -> int:
    value = ctypes.c_int(0)
    size = ctypes.c_uint(ctypes.sizeof(value))
    c = libc()
    if c.getsockopt(sock, SOL_SOCKET, SO_DOMAIN, ctypes.byref(value), ctypes.byref(size)) != 0:
        raise Refused(ctypes.get_errno() or errno.ENOTSOCK)
    return value.value


def handle_connect(call: Call, rules: Rules) -> int:
    """0 when connected, CONTINUE to let the kernel do it; Refused otherwise."""
    sock = _caller_socket(call, call.int_arg(0))
    if _domain(sock) != AF_UNIX:
        return CONTINUE
    size = call.args[2] & 0xFFFFFFFF
    if size <= SUN_PATH_OFFSET or size > SOCKADDR_MAX:
        raise Refused(errno.EINVAL)
    address = call.read(call.args[1], size)
    family = struct.unpack_from("=H", address)[0]
    if family != AF_UNIX:
        raise Refused(errno.EINVAL)
    path = address[SUN_PATH_OFFSET:]
    if path[:1] == b"\0":
        # Abstract: isolated by bubblewrap's network namespace, which the supervisor shares.
        # Connected with the copied address: the caller's could turn into a path meanwhile.
        return _connect(sock, address)
    path = path.split(b"\0", 1)[0]
    target = resolve_socket(call, path)
    info = check(target, rules)
    if not stat.S_ISSOCK(info.st_mode):
        raise Refused(errno.ECONNREFUSED)
    pinned = struct.pack("=H", AF_UNIX) + f"/proc/self/fd/{target}".encode() + b"\0"
    return _connect(sock, pinned)


def resolve_socket(call: Call, path: bytes) -> int:
    """An O_PATH fd of the socket file `path` names for the caller (links followed, as connect
    does)."""
    if not path:
        raise Refused(errno.ENOENT)
    if len(path) >= 4096:
        raise Refused(errno.ENAMETOOLONG)
    # Already copied out of the caller's memory: the caller's cwd, then our own lookup from it.
    base = call.base(AT_FDCWD) if not path.startswith(b"/") else AT_FDCWD
    call.still_valid()
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC, dir_fd=None if base == AT_FDCWD else base)
    except OSError as exc:
        raise Refused(exc.errno or errno.ENOENT) from exc
    call.fds.append(fd)
    return fd


def _connect(sock: int, address: bytes) -> int:
    """Connect the caller's socket to `address` (its result, as connect's)."""
    c = libc()
    c.connect.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if c.connect(sock, address, len(address)) != 0:
        raise Refused(ctypes.get_errno() or errno.ECONNREFUSED)
    return 0
