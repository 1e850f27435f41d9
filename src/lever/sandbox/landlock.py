"""Landlock (Linux ≥ 5.13) through its raw syscalls, and the sandbox that uses it.

`LandlockSandbox.wrap` does not confine anything itself: it prefixes the command with
`python -m lever.sandbox.confine_exec --policy JSON --`, a launcher that calls `apply()` (and
the seccomp filter) on itself and then execs the command, so the restrictions hold for the
command and everything it starts.

Rules: read and execute everywhere; full write access under each writable root; write to the
harmless character devices (/dev/null, /dev/zero, /dev/full); nothing else. Device nodes can
never be created. With ABI ≥ 4 TCP bind/connect is denied when the network is off (seccomp also
refuses the sockets); with ABI ≥ 6 signals and abstract unix sockets are scoped to the sandbox,
so a command cannot kill or talk to processes outside it.

Only the standard library's cheapest modules are imported at module level (no dataclasses,
platform or pathlib): the launcher imports this before every sandboxed command.

Landlock rules only add rights, so `.git` / `.lever` cannot be carved out of a writable root:
each writable root is granted whole (files can be created, renamed and deleted anywhere in the
workspace, its top level included), and what matters in `.git` / `.lever` (hooks, config, the
project's lever files) is checked and restored around each command instead (see protect.py).
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from lever.sandbox.base import SandboxPolicy

# Syscall numbers are the same on x86_64 and aarch64 (the generic table).
SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

# File-system access rights (linux/landlock.h) and the ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
FS_ALL_LATEST = (1 << 16) - 1  # ABI ≥ 5
READ = EXECUTE | READ_FILE | READ_DIR
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # rights valid on a file
WRITE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full")
PROTECTED_NAMES = (".git", ".lever")

SUPPORTED_MACHINES = ("x86_64", "amd64", "aarch64", "arm64")


class LandlockError(OSError):
    """Landlock is missing or refused the ruleset."""


def handled_fs(abi: int) -> int:
    return FS_BY_ABI.get(abi, FS_ALL_LATEST) if abi >= 1 else 0


def handled_net(abi: int, network: bool) -> int:
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and not network else 0


def scoped(abi: int) -> int:
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


def ruleset_attr_size(abi: int) -> int:
    """Bytes of struct landlock_ruleset_attr this ABI knows: fs, + net (4), + scoped (6)."""
    return 8 if abi < 4 else 16 if abi < 6 else 24


class Rule(NamedTuple):
    path: str
    access: int


class Plan(NamedTuple):
    """What `confine_exec` applies: computed from the policy right before exec."""

    abi: int
    network: bool
    rules: tuple[Rule, ...]


def inside_protected(path: str) -> bool:
    """Whether `path` is, or lies under, a `.git` / `.lever`: never a writable root, even as the
    command's cwd (a workdir of `.git/hooks` must not make the hooks writable)."""
    return any(part in PROTECTED_NAMES for part in path.split(os.sep))


def _machine() -> str:
    return os.uname().machine.lower()


def write_rights(abi: int) -> int:
    """Everything but device-node creation, limited to what the ABI handles."""
    return handled_fs(abi) & ~(MAKE_CHAR | MAKE_BLOCK)


def plan_rules(
    abi: int,
    writable_roots: Sequence[str],
    network: bool,
    hidden: Sequence[str] = (),
    visible: Sequence[str] = (),
) -> Plan:
    from lever.sandbox.hidden import read_rules

    fs = handled_fs(abi)
    # Read everywhere but the hidden credential places (see hidden.py).
    kinds = {"read": READ & fs, "file": READ & FILE_ONLY & fs, "list": READ_DIR & fs}
    rules = [Rule(path, kinds[kind]) for path, kind in read_rules(hidden, "/", visible)]
    for device in WRITE_DEVICES:
        rules.append(Rule(device, (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & fs))
    for root in writable_roots:
        # A hidden place inside a writable root (lever started in $HOME) stays hidden.
        for path, kind in read_rules(hidden, root):
            rights = write_rights(abi) if kind != "list" else READ_DIR & fs
            if not os.path.isdir(path):
                rights &= FILE_ONLY
            rules.append(Rule(path, rights))
    return Plan(abi, network, tuple(rules))


# --- the syscalls -------------------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when unavailable: old kernel, disabled LSM, odd arch)."""
    if not sys.platform.startswith("linux") or _machine() not in SUPPORTED_MACHINES:
        return 0
    libc = _libc()
    version = libc.syscall(
        SYS_CREATE_RULESET, ctypes.c_void_p(None), ctypes.c_size_t(0), ctypes.c_uint32(1)
    )
    return max(int(version), 0)


def unavailable_reason() -> str | None:
    """Why Landlock cannot be used here, or None."""
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    if _machine() not in SUPPORTED_MACHINES:
        return f"unsupported architecture {_machine()}"
    libc = _libc()
    version = libc.syscall(
        SYS_CREATE_RULESET, ctypes.c_void_p(None), ctypes.c_size_t(0), ctypes.c_uint32(1)
    )
    if version < 1:
        err = ctypes.get_errno()
        return f"landlock_create_ruleset: {os.strerror(err)} (kernel too old or LSM disabled)"
    return None


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"{what}: {os.strerror(err)}")
    return result


def apply(plan: Plan) -> None:
    """Restrict the calling thread (and its future children) to `plan`. Needs no_new_privs."""
    libc = _libc()
    attr = _RulesetAttr(handled_fs(plan.abi), handled_net(plan.abi, plan.network), scoped(plan.abi))
    size = ruleset_attr_size(plan.abi)
    ruleset = _check(
        libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    try:
        for rule in plan.rules:
            _add_path_rule(libc, ruleset, rule)
        _check(libc.syscall(SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _add_path_rule(libc: Any, ruleset: int, rule: Rule) -> None:
    try:
        fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # e.g. a writable root deleted meanwhile: nothing to grant
    try:
        beneath = _PathBeneathAttr(rule.access, fd)
        _check(
            libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(beneath), 0),
            f"landlock_add_rule({rule.path})",
        )
    finally:
        os.close(fd)


# --- the sandbox --------------------------------------------------------------------------


class LandlockSandbox:
    """Runs commands through `confine_exec` (Landlock + seccomp), no namespaces needed."""

    name = "landlock"
    available = True

    def __init__(self, policy: SandboxPolicy, *, tmp_dir: Path | None = None) -> None:
        from lever.sandbox.launcher_home import own_sites
        from lever.sandbox.protect import Protector

        self.policy = policy
        self.tmp_dir = tmp_dir
        # Landlock cannot keep .git / .lever (or lever's own site-packages, when it lies in the
        # workspace) read-only inside a writable root: checked and restored instead.
        writable = policy.mode == "workspace-write"
        self.protector = Protector(policy.writable_roots, own_sites()) if writable else None

    def writable_roots(self, cwd: Path) -> list[str]:
        if self.policy.mode != "workspace-write":
            return []
        roots = [cwd, *self.policy.writable_roots]
        if self.tmp_dir is not None:
            roots.append(self.tmp_dir)
        unique: list[str] = []
        for root in roots:
            resolved = os.path.realpath(root)
            if resolved not in unique and not inside_protected(resolved):
                unique.append(resolved)
        return unique

    def launcher_policy(self, cwd: Path) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "mode": self.policy.mode,
            "writable_roots": self.writable_roots(cwd),
            "network": self.policy.network,
        }
        if self.tmp_dir is not None and self.policy.mode == "workspace-write":
            policy["tmpdir"] = str(self.tmp_dir)
        from lever.sandbox.hidden import RUNTIME, hidden_paths

        # Computed here: the launcher gets the commands' environment, without XDG_RUNTIME_DIR.
        keep: list[str | os.PathLike[str]] = [cwd, *self.writable_roots(cwd), *RUNTIME]
        policy["hidden"] = hidden_paths(os.environ, keep, self.policy.allow_read)
        policy["unix_sockets"] = self.policy.unix_sockets
        from lever.sandbox.launcher_home import own_sites_inside

        # The metadata supervisor refuses chmod & co. there (notify.py).
        policy["protected"] = own_sites_inside(policy["writable_roots"])
        policy["visible"] = list(self.policy.session_files)
        return policy

    def wrap(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
        from lever.sandbox.confine_exec import launcher_argv

        return launcher_argv(self.launcher_policy(cwd), argv)


def describe(abi: int) -> str:
    extras = []
    if abi >= 4:
        extras.append("TCP rules")
    if abi >= 6:
        extras.append("signal/abstract-socket scoping")
    suffix = f" ({', '.join(extras)})" if extras else ""
    return f"Landlock ABI {abi}{suffix} + seccomp"
