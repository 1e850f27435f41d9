"""The metadata supervisor: chmod, chown, utime and xattr calls of a Landlock-confined command.

Landlock has no access right for file metadata, so a confined command could chmod, chown,
touch -d or setxattr any file the user owns, anywhere. The seccomp filter sends these calls to
this supervisor instead (SECCOMP_RET_USER_NOTIF); it runs in the launcher's unconfined parent
(confine_exec), which fetched the filter's listener fd from the confined child (pidfd_getfd).

For each call the supervisor does the work itself and answers with the result, never with
SECCOMP_USER_NOTIF_FLAG_CONTINUE (the caller's memory, or a symlink on its path, can change
between a check and the kernel's second look; the one exception is connect() on a socket that
is not a unix one, see notify_connect.py):

1. copies the arguments it needs (path, xattr name and value, times) out of the caller's memory
   (/proc/PID/mem), and opens the caller's cwd or dirfd (/proc/PID/cwd, /proc/PID/fd/N) as an
   O_PATH fd; then checks SECCOMP_IOCTL_NOTIF_ID_VALID, so PID was still that caller;
2. resolves the path from that fd into an O_PATH fd of its own (O_NOFOLLOW where the call does
   not follow a final symlink): the object is pinned, whatever the command renames later;
3. allows it only when that object lies inside a writable root (its /proc/self/fd path, checked
   to be the same inode), outside the protected parts of `.git` / `.lever` (protected.py) and
   outside lever's own installation;
4. performs the call on the pinned object (through /proc/self/fd/N) and returns its errno.

The supervisor holds no capabilities (the launcher drops them after starting the command), so a
call it performs can do nothing the command itself could not on a writable path.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import stat
import struct
from typing import TYPE_CHECKING, Any

from lever.sandbox.protected import metadata_protected

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# ioctls on the listener (linux/seccomp.h; _IOWR('!', n, size), the same on x86_64 and aarch64)
NOTIF_RECV = 0xC0502100  # struct seccomp_notif: 80 bytes
NOTIF_SEND = 0xC0182101  # struct seccomp_notif_resp: 24 bytes
NOTIF_ID_VALID = 0x80082102  # the original _IOR value: every kernel since 5.0 accepts it
_NOTIF = struct.Struct("=QIIiIQ6Q")
_RESP = struct.Struct("=QqiI")
SYS_PIDFD_GETFD = 438
#: Let the kernel perform the call: only where re-reading the caller's memory cannot matter.
USER_NOTIF_FLAG_CONTINUE = 1  # the generic number: x86_64 and aarch64 alike

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
UTIME_NOW = (1 << 30) - 1
PATH_MAX = 4096
XATTR_SIZE_MAX = 65536
XATTR_NAME_MAX = 255


class Refused(Exception):
    """The call is answered with this errno."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.err = err


class Call:
    """One notification: the caller's pid and arguments, and its memory to read them from."""

    def __init__(self, listener: int, raw: bytes) -> None:
        self.listener = listener
        self.id, self.pid, _, self.nr, _, _, *args = _NOTIF.unpack(raw)
        self.args: list[int] = args
        self._mem: int | None = None
        self.fds: list[int] = []

    def int_arg(self, index: int) -> int:
        """A C int argument (a dirfd or fd): the low 32 bits, signed."""
        value = self.args[index] & 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value

    def read(self, address: int, size: int) -> bytes:
        if self._mem is None:
            try:
                self._mem = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise Refused(errno.EPERM) from exc
        if address == 0 or address >= 1 << 63:
            raise Refused(errno.EFAULT)
        try:
            data = os.pread(self._mem, size, address)
        except OSError as exc:
            raise Refused(errno.EFAULT) from exc
        if len(data) < size:
            raise Refused(errno.EFAULT)
        return data

    def read_string(self, address: int, limit: int) -> bytes:
        """A NUL-terminated string, read page by page (it may end just before unmapped memory)."""
        out = b""
        while len(out) < limit:
            chunk = 4096 - (address + len(out)) % 4096
            data = self.read(address + len(out), chunk)
            end = data.find(b"\0")
            if end >= 0:
                return out + data[:end]
            out += data
        raise Refused(errno.ENAMETOOLONG)

    def open_proc(self, what: str, flags: int) -> int:
        try:
            fd = os.open(f"/proc/{self.pid}/{what}", flags | os.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            raise Refused(exc.errno or errno.EPERM) from exc
        self.fds.append(fd)
        return fd

    def base(self, dirfd: int) -> int:
        """The caller's cwd or dirfd as an O_PATH fd of ours."""
        return self.open_proc("cwd" if dirfd == AT_FDCWD else f"fd/{dirfd}", 0)

    def still_valid(self) -> None:
        """After reading through /proc/PID: the caller is still the one that made the call."""
        if _ioctl(self.listener, NOTIF_ID_VALID, struct.pack("=Q", self.id)) != 0:
            raise Refused(errno.ENOENT)

    def close(self) -> None:
        for fd in [*self.fds, *([self._mem] if self._mem is not None else [])]:
            os.close(fd)


_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _ioctl(fd: int, request: int, buffer: bytes | ctypes.Array[ctypes.c_char]) -> int:
    c = libc()
    c.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_char_p]
    result: int = c.ioctl(fd, request, buffer)
    return 0 if result == 0 else ctypes.get_errno() or errno.EIO


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A copy of another process's fd (the listener the confined child created)."""
    result: int = libc().syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pidfd_getfd: {os.strerror(err)}")
    return result


# --- resolving and checking the target ----------------------------------------------------


class Rules:
    """Where metadata may change: inside `roots`, outside protected parts and `protected`."""

    def __init__(self, roots: Sequence[str], protected: Sequence[str]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self.protected = [os.path.realpath(p) for p in protected]

    def allows(self, path: str) -> bool:
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.protected):
            return False
        for root in self.roots:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return not metadata_protected(path[len(root) :].strip("/"))
        return False


def check(target: int, rules: Rules) -> os.stat_result:
    """Refuse unless the pinned object is inside a writable root; its lstat."""
    info = os.fstat(target)
    try:
        path = os.readlink(f"/proc/self/fd/{target}")
        here = os.lstat(path)
    except OSError as exc:
        raise Refused(errno.EPERM) from exc
    # The path must still name this very object (not a deleted or unreachable one).
    same = (here.st_dev, here.st_ino) == (info.st_dev, info.st_ino)
    if not same or not path.startswith("/") or not rules.allows(path):
        raise Refused(errno.EPERM)
    return info


def resolve(call: Call, *, dirfd: int, path_at: int | None, follow: bool, empty: bool) -> int:
    """An O_PATH fd of the call's target: `path_at` (address of the path; None: dirfd itself)
    relative to `dirfd` (AT_FDCWD: the caller's cwd)."""
    path = b"" if path_at is None else call.read_string(path_at, PATH_MAX)
    if not path:
        if path_at is not None and not empty:
            raise Refused(errno.ENOENT)
        fd = call.open_proc("cwd" if dirfd == AT_FDCWD else f"fd/{dirfd}", 0)
        call.still_valid()
        return fd
    base = call.base(dirfd) if not path.startswith(b"/") else AT_FDCWD
    call.still_valid()
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=None if base == AT_FDCWD else base)
    except OSError as exc:
        raise Refused(exc.errno or errno.EPERM) from exc
    call.fds.append(fd)
    return fd


# --- the operations -----------------------------------------------------------------------


def _self(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def _run(action: Callable[[], object]) -> None:
    try:
        action()
    except OSError as exc:
        raise Refused(exc.errno or errno.EPERM) from exc


def _libc_call(result: int) -> None:
    if result != 0:
        raise Refused(ctypes.get_errno() or errno.EPERM)


def do_chmod(target: int, info: os.stat_result, mode: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise Refused(errno.EOPNOTSUPP)  # what fchmodat2(AT_SYMLINK_NOFOLLOW) says on Linux
    _run(lambda: os.chmod(_self(target), mode & 0o7777))


def do_chown(target: int, uid: int, gid: int) -> None:
    c = libc()
    c.fchownat.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_int,
    ]
    _libc_call(c.fchownat(target, b"", uid & 0xFFFFFFFF, gid & 0xFFFFFFFF, AT_EMPTY_PATH))


def do_utimens(target: int, info: os.stat_result, times: bytes | None) -> None:
    c = libc()
    c.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    if stat.S_ISLNK(info.st_mode):
        _libc_call(c.utimensat(target, b"", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
    else:
        _libc_call(c.utimensat(AT_FDCWD, _self(target).encode(), times, 0))


def do_setxattr(target: int, info: os.stat_result, name: bytes, value: bytes, flags: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise Refused(errno.EPERM)  # no user xattrs on symlinks; other namespaces need caps
    _run(lambda: os.setxattr(_self(target), os.fsdecode(name), value, flags))


def do_removexattr(target: int, info: os.stat_result, name: bytes) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise Refused(errno.EPERM)
    _run(lambda: os.removexattr(_self(target), os.fsdecode(name)))


def timespecs(call: Call, kind: str, address: int) -> bytes | None:
    """The call's times as struct timespec[2] (None: now), from utimbuf/timeval/timespec."""
    if address == 0:
        return None
    if kind == "utimbuf":
        access, modified = struct.unpack("=qq", call.read(address, 16))
        return struct.pack("=qqqq", access, 0, modified, 0)
    if kind == "timeval":
        a_sec, a_usec, m_sec, m_usec = struct.unpack("=qqqq", call.read(address, 32))
        if not (0 <= a_usec < 1_000_000 and 0 <= m_usec < 1_000_000):
            raise Refused(errno.EINVAL)
        return struct.pack("=qqqq", a_sec, a_usec * 1000, m_sec, m_usec * 1000)
    return call.read(address, 32)


# --- the loop -----------------------------------------------------------------------------


def answer(listener: int, raw: bytes, names: dict[int, str], rules: Rules) -> None:
    from lever.sandbox.notify_calls import handle

    call = Call(listener, raw)
    try:
        name = names.get(call.nr)
        if name is None:
            raise Refused(errno.ENOSYS)
        flags = USER_NOTIF_FLAG_CONTINUE if handle(call, name, rules) == -1 else 0
        err = 0
    except Refused as refused:
        err, flags = refused.err, 0
    finally:
        call.close()
    # A caller killed meanwhile makes SEND fail with ENOENT: nothing to answer then.
    _ioctl(listener, NOTIF_SEND, _RESP.pack(call.id, 0, -err, flags))


def serve(listener: int, pidfd: int, names: dict[int, str], rules: Rules) -> None:
    """Answer notifications until the process behind `pidfd` has exited."""
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    while True:
        for fd, events in poller.poll():
            if fd == pidfd:
                return
            if events & (select.POLLHUP | select.POLLERR):
                poller.unregister(listener)  # every confined process is gone
                continue
            buffer = ctypes.create_string_buffer(_NOTIF.size)
            if _ioctl(listener, NOTIF_RECV, buffer) != 0:
                continue  # the caller went away (ENOENT), or a signal interrupted (EINTR)
            answer(listener, buffer.raw, names, rules)
