"""Each metadata syscall the supervisor answers (notify.py): where its target and values are.

Argument layouts are the kernel's (x86_64 and aarch64 alike; aarch64 simply lacks the
path-only ones such as chmod). A target is resolved once, checked, then changed.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from lever.sandbox.notify import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    XATTR_NAME_MAX,
    XATTR_SIZE_MAX,
    Refused,
    check,
    do_chmod,
    do_chown,
    do_removexattr,
    do_setxattr,
    do_utimens,
    resolve,
    timespecs,
)

if TYPE_CHECKING:
    from lever.sandbox.notify import Call, Rules

#: name -> (dirfd arg or None, path arg or None, fd arg or None, follows a final symlink,
#: flags arg or None): where the call's target is.
TARGETS: dict[str, tuple[int | None, int | None, int | None, bool, int | None]] = {
    "chmod": (None, 0, None, True, None),
    "fchmod": (None, None, 0, True, None),
    "fchmodat": (0, 1, None, True, None),
    "fchmodat2": (0, 1, None, True, 3),
    "chown": (None, 0, None, True, None),
    "lchown": (None, 0, None, False, None),
    "fchown": (None, None, 0, True, None),
    "fchownat": (0, 1, None, True, 4),
    "setxattr": (None, 0, None, True, None),
    "lsetxattr": (None, 0, None, False, None),
    "fsetxattr": (None, None, 0, True, None),
    "removexattr": (None, 0, None, True, None),
    "lremovexattr": (None, 0, None, False, None),
    "fremovexattr": (None, None, 0, True, None),
    "setxattrat": (0, 1, None, True, 2),
    "removexattrat": (0, 1, None, True, 2),
    "utime": (None, 0, None, True, None),
    "utimes": (None, 0, None, True, None),
    "futimesat": (0, 1, None, True, None),
    "utimensat": (0, 1, None, True, 3),
}


def _target(call: Call, name: str) -> int:
    dirfd_arg, path_arg, fd_arg, follow, flags_arg = TARGETS[name]
    flags = call.int_arg(flags_arg) if flags_arg is not None else 0
    if flags & AT_SYMLINK_NOFOLLOW:
        follow = False
    if fd_arg is not None:
        if call.int_arg(fd_arg) < 0:
            raise Refused(errno.EBADF)  # fchmod(AT_FDCWD, ...) is not the cwd
        return resolve(call, dirfd=call.int_arg(fd_arg), path_at=None, follow=True, empty=True)
    dirfd = call.int_arg(dirfd_arg) if dirfd_arg is not None else AT_FDCWD
    assert path_arg is not None
    path_at: int | None = call.args[path_arg]
    if name == "utimensat" and path_at == 0:
        if dirfd == AT_FDCWD:
            raise Refused(errno.EFAULT)
        path_at = None  # utimensat(fd, NULL, ...): the fd itself
    return resolve(
        call, dirfd=dirfd, path_at=path_at, follow=follow, empty=bool(flags & AT_EMPTY_PATH)
    )


def _xattr_name(call: Call, address: int) -> bytes:
    name = call.read_string(address, XATTR_NAME_MAX + 1)
    if not name or len(name) > XATTR_NAME_MAX:
        raise Refused(errno.ERANGE)
    return name


def _xattr_value(call: Call, name: str) -> tuple[bytes, int]:
    """(value, XATTR_CREATE/REPLACE flags) of a setxattr-family call."""
    if name == "setxattrat":
        if call.args[5] < 16:
            raise Refused(errno.EINVAL)
        address, size, flags = struct.unpack("=QII", call.read(call.args[4], 16))
    else:
        address, size, flags = call.args[2], call.args[3], call.int_arg(4)
    if size > XATTR_SIZE_MAX:
        raise Refused(errno.E2BIG)
    value = call.read(address, size) if size else b""
    return value, flags


def handle(call: Call, name: str, rules: Rules) -> int | None:
    """Perform the call for the caller, or raise Refused with its errno; CONTINUE (-1) lets the
    kernel perform it (connect on a socket that cannot reach a path)."""
    if name == "connect":
        from lever.sandbox.notify_connect import handle_connect

        return handle_connect(call, rules)
    # Values first: everything read from the caller's memory is read before the ID check.
    if name in ("setxattr", "lsetxattr", "fsetxattr", "setxattrat"):
        attr = _xattr_name(call, call.args[3 if name == "setxattrat" else 1])
        value, xflags = _xattr_value(call, name)
        target = _target(call, name)
        do_setxattr(target, check(target, rules), attr, value, xflags)
    elif name in ("removexattr", "lremovexattr", "fremovexattr", "removexattrat"):
        attr = _xattr_name(call, call.args[3 if name == "removexattrat" else 1])
        target = _target(call, name)
        do_removexattr(target, check(target, rules), attr)
    elif name in ("utime", "utimes", "futimesat", "utimensat"):
        kind = {"utime": "utimbuf", "utimes": "timeval", "futimesat": "timeval"}.get(name, "ts")
        times = timespecs(call, kind, call.args[2 if name in ("futimesat", "utimensat") else 1])
        target = _target(call, name)
        do_utimens(target, check(target, rules), times)
    elif "chmod" in name:
        target = _target(call, name)
        mode_arg = 1 if name in ("chmod", "fchmod") else 2
        do_chmod(target, check(target, rules), call.args[mode_arg])
    elif "chown" in name:
        target = _target(call, name)
        first = 1 if name in ("chown", "lchown", "fchown") else 2
        check(target, rules)
        do_chown(target, call.args[first], call.args[first + 1])
    else:
        raise Refused(errno.ENOSYS)
    return None
