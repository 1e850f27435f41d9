"""A hand-assembled seccomp-BPF filter for the Landlock mechanism (Linux x86_64 and aarch64).

Landlock confines the file system; this filter covers what Landlock cannot:

- network off: `socket()` for any domain but AF_UNIX fails with EPERM (TCP, UDP, raw, netlink…);
- always: `unshare`, `setns` and `clone` with namespace flags fail with EPERM, and `clone3`
  (whose flags sit behind a pointer BPF cannot follow) fails with ENOSYS so libc falls back to
  `clone`; io_uring is refused because its operations (e.g. IORING_OP_SOCKET) bypass seccomp;
- chmod / chown / xattr / utime calls, which Landlock does not govern: in read-only mode they
  fail; in workspace-write mode they go to the launcher's supervisor (SECCOMP_RET_USER_NOTIF,
  see notify.py), which performs them only inside the writable roots; where no listener can be
  created they fail everywhere;
- unix sockets (unless `[sandbox] unix_sockets = true`): `socket(AF_UNIX, …)` fails with EPERM.
  Landlock does not govern `connect()` on a path unix socket, and BPF cannot read the path
  behind connect's pointer, so the only rule that keeps commands away from the person's tmux,
  ssh-agent, dbus or docker sockets is to create none. `socketpair()` (pipes between a
  command's own processes, asyncio's self-pipe) still works;
- always: the terminal ioctls `TIOCSTI` (push keystrokes into a terminal's input) and
  `TIOCLINUX` fail; the kernel keyring calls (`add_key`, `request_key`, `keyctl`) fail, so the
  session keyring cannot be read; System V IPC (shared memory, semaphores, message queues)
  fails, since without an IPC namespace its objects are the host's; `prlimit64` on another
  process fails (its own limits: pid 0, still work).

A syscall from a foreign ABI (i386 via int 0x80, x32) kills the process: those tables have
other numbers (and `socketcall`), so letting them through would bypass every rule above.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

# BPF opcodes (linux/filter.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
RET_USER_NOTIF = 0x7FC00000
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3

# offsets in struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; } (little-endian)
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16
_OFF_ARG1_LO = 24

AF_UNIX = 1
# ioctl requests (asm-generic/ioctls.h, the same on x86_64 and aarch64); the kernel reads the
# request as a 32-bit value, so comparing the low word is exact.
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
X32_SYSCALL_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000
CLONE_NS_FLAGS |= 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class Arch(NamedTuple):
    name: str
    audit: int  # AUDIT_ARCH_* value the kernel reports in seccomp_data.arch
    nr: dict[str, int]  # syscall numbers; names missing on this arch are simply absent
    x32: bool = False  # x86_64 also accepts x32 syscalls (nr | X32_SYSCALL_BIT)


X86_64 = Arch(
    "x86_64",
    0xC000003E,
    {
        "seccomp": 317,
        "socket": 41,
        "connect": 42,
        "socketpair": 53,
        "clone": 56,
        "clone3": 435,
        "unshare": 272,
        "setns": 308,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "chmod": 90,
        "fchmod": 91,
        "fchmodat": 268,
        "fchmodat2": 452,
        "chown": 92,
        "fchown": 93,
        "lchown": 94,
        "fchownat": 260,
        "setxattr": 188,
        "lsetxattr": 189,
        "fsetxattr": 190,
        "removexattr": 197,
        "lremovexattr": 198,
        "fremovexattr": 199,
        "setxattrat": 463,
        "removexattrat": 466,
        "utime": 132,
        "utimes": 235,
        "futimesat": 261,
        "utimensat": 280,
        "ioctl": 16,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "prlimit64": 302,
        "shmget": 29,
        "shmat": 30,
        "shmctl": 31,
        "shmdt": 67,
        "semget": 64,
        "semop": 65,
        "semctl": 66,
        "semtimedop": 220,
        "msgget": 68,
        "msgsnd": 69,
        "msgrcv": 70,
        "msgctl": 71,
    },
    x32=True,
)
AARCH64 = Arch(
    "aarch64",
    0xC00000B7,
    {
        "seccomp": 277,
        "socket": 198,
        "connect": 203,
        "socketpair": 199,
        "clone": 220,
        "clone3": 435,
        "unshare": 97,
        "setns": 268,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "fchmod": 52,
        "fchmodat": 53,
        "fchmodat2": 452,
        "fchown": 55,
        "fchownat": 54,
        "setxattr": 5,
        "lsetxattr": 6,
        "fsetxattr": 7,
        "removexattr": 14,
        "lremovexattr": 15,
        "fremovexattr": 16,
        "setxattrat": 463,
        "removexattrat": 466,
        "utimensat": 88,
        "ioctl": 29,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "prlimit64": 261,
        "msgget": 186,
        "msgctl": 187,
        "msgrcv": 188,
        "msgsnd": 189,
        "semget": 190,
        "semctl": 191,
        "semtimedop": 192,
        "semop": 193,
        "shmget": 194,
        "shmctl": 195,
        "shmat": 196,
        "shmdt": 197,
    },
)
ARCHES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}

NAMESPACE_CALLS = ("unshare", "setns")
KEYRING_CALLS = ("add_key", "request_key", "keyctl")
SYSV_IPC_CALLS = (
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
    "msgget", "msgsnd", "msgrcv", "msgctl",
)  # fmt: skip
IO_URING_CALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register")
METADATA_CALLS = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "setxattrat", "removexattrat", "utime", "utimes", "futimesat", "utimensat",
)  # fmt: skip


class SeccompError(OSError):
    """The filter could not be installed."""


def current_arch() -> Arch:
    machine = os.uname().machine.lower()  # not `platform`: too slow to import per command
    if machine not in ARCHES:
        raise SeccompError(errno.ENOSYS, f"seccomp filter: unsupported architecture {machine}")
    return ARCHES[machine]


# An instruction before label resolution: (code, k, jump-if-true label, jump-if-false label).
_Insn = tuple[int, int, str | None, str | None]
#: With a socket type loaded: to "deny" unless SOCK_STREAM (1) or SOCK_SEQPACKET (5), whatever
#: SOCK_NONBLOCK / SOCK_CLOEXEC say (DGRAM 2, RAW 3, RDM 4, PACKET 10 all fail).
_NOT_STREAM: list[_Insn] = [
    (_JSET_K, 0x2, "deny", None),
    (_JSET_K, 0x8, "deny", None),
    (_JSET_K, 0x1, None, "deny"),
]


def _ret(value: int) -> _Insn:
    return (_RET_K, value, None, None)


def _load(offset: int) -> _Insn:
    return (_LD_W_ABS, offset, None, None)


def build_program(
    arch: Arch,
    *,
    network: bool,
    read_only: bool,
    unix_sockets: bool = False,
    metadata: str = "allow",
    supervised_unix: bool = False,
) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) tuples, jumps resolved to relative offsets.

    `metadata`: "allow" (bubblewrap: its mounts govern metadata), "notify" (to the supervisor)
    or "deny"; read-only mode always denies. `supervised_unix` (bubblewrap): stream unix
    sockets may be made and every connect() goes to the supervisor (notify_connect.py)."""
    deny = RET_ERRNO | errno.EPERM
    blocks: list[list[_Insn]] = []

    def rule(name: str, body: Iterable[_Insn]) -> None:
        # Each block tests nr and falls through to the next block when it does not match;
        # every block ends in a return, so the clobbered accumulator never leaks onward.
        if name in arch.nr:
            label = f"after_{len(blocks)}"
            insns = [(_JEQ_K, arch.nr[name], None, label), *body]
            blocks.append([*insns, (-1, 0, label, None)])  # -1: label marker

    for name in NAMESPACE_CALLS:
        rule(name, [_ret(deny)])
    rule("clone", [_load(_OFF_ARG0_LO), (_JSET_K, CLONE_NS_FLAGS, "deny", None), _ret(RET_ALLOW)])
    rule("clone3", [_ret(RET_ERRNO | errno.ENOSYS)])
    for name in IO_URING_CALLS:
        rule(name, [_ret(RET_ERRNO | errno.ENOSYS)])
    if supervised_unix and not unix_sockets:
        other = RET_ALLOW if network else deny
        stream = [_load(_OFF_ARG1_LO), *_NOT_STREAM, _ret(RET_ALLOW)]
        unix = [_load(_OFF_ARG0_LO), (_JEQ_K, AF_UNIX, None, "not_unix"), *stream]
        rule("socket", [*unix, (-1, 0, "not_unix", None), _ret(other)])
        rule("connect", [_ret(RET_USER_NOTIF)])
    elif not network and unix_sockets:
        rule("socket", [_load(_OFF_ARG0_LO), (_JEQ_K, AF_UNIX, None, "deny"), _ret(RET_ALLOW)])
    elif not network:
        rule("socket", [_ret(deny)])
    elif not unix_sockets:
        rule("socket", [_load(_OFF_ARG0_LO), (_JEQ_K, AF_UNIX, "deny", None), _ret(RET_ALLOW)])
    if not unix_sockets:
        # A datagram socketpair can still sendto() any path socket: stream pairs only.
        rule("socketpair", [_load(_OFF_ARG1_LO), *_NOT_STREAM, _ret(RET_ALLOW)])
    ioctl = [_load(_OFF_ARG1_LO), (_JEQ_K, TIOCSTI, "deny", None)]
    rule("ioctl", [*ioctl, (_JEQ_K, TIOCLINUX, "deny", None), _ret(RET_ALLOW)])
    for name in (*KEYRING_CALLS, *SYSV_IPC_CALLS):
        rule(name, [_ret(deny)])
    rule("prlimit64", [_load(_OFF_ARG0_LO), (_JEQ_K, 0, None, "deny"), _ret(RET_ALLOW)])
    if read_only or metadata != "allow":
        action = RET_USER_NOTIF if metadata == "notify" and not read_only else deny
        for name in METADATA_CALLS:
            rule(name, [_ret(action)])

    head: list[_Insn] = [_load(_OFF_ARCH), (_JEQ_K, arch.audit, None, "kill"), _load(_OFF_NR)]
    if arch.x32:
        head.append((_JGE_K, X32_SYSCALL_BIT, "kill", None))
    tail: list[_Insn] = [_ret(RET_ALLOW), (-1, 0, "deny", None), _ret(deny)]
    tail += [(-1, 0, "kill", None), _ret(RET_KILL_PROCESS)]
    flat = head + [insn for block in blocks for insn in block] + tail
    return _resolve(flat)


def _resolve(flat: list[_Insn]) -> list[tuple[int, int, int, int]]:
    labels: dict[str, int] = {}
    program: list[_Insn] = []
    for insn in flat:
        if insn[0] == -1:
            assert insn[2] is not None
            labels[insn[2]] = len(program)
        else:
            program.append(insn)

    def offset(index: int, label: str | None) -> int:
        if label is None:
            return 0  # fall through to the next instruction
        distance = labels[label] - index - 1
        if not 0 <= distance <= 255:
            raise SeccompError(errno.E2BIG, f"seccomp jump to {label} out of range")
        return distance

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, k, jt, jf) in enumerate(program)]


def encode(program: list[tuple[int, int, int, int]]) -> bytes:
    """struct sock_filter[]: u16 code, u8 jt, u8 jf, u32 k (native byte order)."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def run_program(program: list[tuple[int, int, int, int]], data: bytes) -> int:
    """Interpret the filter on a seccomp_data blob: lets tests check it without a kernel."""
    acc = 0
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        if code == _RET_K:
            return k
        if code == _LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
            continue
        taken = {_JEQ_K: acc == k, _JGE_K: acc >= k, _JSET_K: bool(acc & k)}[code]
        pc += 1 + (jt if taken else jf)


def seccomp_data(arch: Arch, nr: int, *args: int) -> bytes:
    padded = list(args) + [0] * (6 - len(args))
    return struct.pack("=iIQ6Q", nr, arch.audit, 0, *padded)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(
    *,
    network: bool,
    read_only: bool,
    unix_sockets: bool = False,
    metadata: str = "allow",
    supervised_unix: bool = False,
) -> int | None:
    """Install the filter on the calling thread (inherited across fork and exec). With
    metadata="notify" or `supervised_unix`, returns the listener fd (close-on-exec) the
    supervisor answers on."""
    arch = current_arch()
    program = build_program(
        arch,
        network=network,
        read_only=read_only,
        unix_sockets=unix_sockets,
        metadata=metadata,
        supervised_unix=supervised_unix,
    )
    blob = ctypes.create_string_buffer(encode(program))
    prog = _SockFprog(len(program), ctypes.cast(blob, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    # prctl checks that unused arguments are zero: always pass all five.
    libc.prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {errno.errorcode.get(err, err)}")
    if (metadata == "notify" and not read_only) or (supervised_unix and not unix_sockets):
        flags = SECCOMP_FILTER_FLAG_NEW_LISTENER
        libc.syscall.argtypes = [ctypes.c_long, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
        fd: int = libc.syscall(
            arch.nr["seccomp"], SECCOMP_SET_MODE_FILTER, flags, ctypes.addressof(prog)
        )
        if fd < 0:
            err = ctypes.get_errno()
            raise SeccompError(err, f"seccomp(NEW_LISTENER): {errno.errorcode.get(err, err)}")
        return fd
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl(PR_SET_SECCOMP): {errno.errorcode.get(err, err)}")
    return None
