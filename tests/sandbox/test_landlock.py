"""Landlock and seccomp pieces that need no kernel: ABI handling, rule plans, the BPF program."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from lever.sandbox import landlock, seccomp
from lever.sandbox.base import SandboxPolicy
from lever.sandbox.confine_exec import launcher_argv, main
from lever.sandbox.landlock import LandlockSandbox


@pytest.mark.parametrize(
    ("abi", "fs", "size"),
    [
        (0, 0, 8),
        (1, (1 << 13) - 1, 8),
        (2, (1 << 14) - 1, 8),
        (3, (1 << 15) - 1, 8),
        (4, (1 << 15) - 1, 16),
        (5, (1 << 16) - 1, 16),
        (6, (1 << 16) - 1, 24),
        (9, (1 << 16) - 1, 24),
    ],
)
def test_handled_rights_and_struct_size_follow_the_abi(abi: int, fs: int, size: int) -> None:
    assert landlock.handled_fs(abi) == fs
    assert landlock.ruleset_attr_size(abi) == size


def test_network_and_scoping_only_when_the_abi_has_them() -> None:
    assert landlock.handled_net(3, network=False) == 0
    assert (
        landlock.handled_net(4, network=False) == landlock.NET_BIND_TCP | landlock.NET_CONNECT_TCP
    )
    assert landlock.handled_net(7, network=True) == 0
    assert landlock.scoped(5) == 0
    assert landlock.scoped(6) == landlock.SCOPE_SIGNAL | landlock.SCOPE_ABSTRACT_UNIX_SOCKET


def test_write_rights_never_include_device_nodes() -> None:
    for abi in range(1, 8):
        rights = landlock.write_rights(abi)
        assert not rights & (landlock.MAKE_CHAR | landlock.MAKE_BLOCK)
        assert rights & landlock.WRITE_FILE and rights & landlock.MAKE_REG
        assert rights & ~landlock.handled_fs(abi) == 0  # never more than the ABI handles


def test_plan_grants_each_root_whole_even_with_git(tmp_path: Path) -> None:
    # Landlock cannot keep .git read-only inside a writable root without making the root's top
    # level unwritable: the root is granted whole and protect.py looks after .git / .lever.
    (tmp_path / ".git").mkdir()
    (tmp_path / "README.md").write_text("x")
    plan = landlock.plan_rules(3, [str(tmp_path), str(tmp_path / "README.md")], network=False)
    rules = {rule.path: rule.access for rule in plan.rules}
    assert rules["/"] == landlock.READ
    assert rules[str(tmp_path)] == landlock.write_rights(3)
    assert rules[str(tmp_path / "README.md")] & ~landlock.FILE_ONLY == 0  # a file root
    assert rules["/dev/null"] & landlock.WRITE_FILE
    assert str(tmp_path / ".git") not in rules


def test_only_workspace_write_has_a_protector(tmp_path: Path) -> None:
    assert LandlockSandbox(SandboxPolicy(mode="workspace-write")).protector is not None
    assert LandlockSandbox(SandboxPolicy(mode="read-only")).protector is None


def test_abi_probe_is_an_int() -> None:
    abi = landlock.abi_version()
    assert abi >= 0
    assert (landlock.unavailable_reason() is None) == (abi >= 1)


def test_sandbox_wraps_through_the_launcher(tmp_path: Path) -> None:
    sandbox = LandlockSandbox(
        SandboxPolicy(mode="workspace-write", writable_roots=(tmp_path / "extra",)),
        tmp_dir=tmp_path / "tmp",
    )
    argv = sandbox.wrap(["ls", "-l"], tmp_path, {})
    # The real interpreter, isolated and without site (see launcher_home.py).
    assert argv[0] == os.path.realpath(argv[0]) and argv[1:4] == ["-I", "-S", "-c"]
    assert "lever.sandbox.confine_exec" in argv[4]
    assert argv[-3:] == ["--", "ls", "-l"]
    policy = json.loads(argv[argv.index("--policy") + 1])
    assert policy["writable_roots"] == [
        str(p.resolve()) for p in (tmp_path, tmp_path / "extra", tmp_path / "tmp")
    ]
    assert policy["tmpdir"] == str(tmp_path / "tmp") and policy["network"] is False


def test_read_only_has_no_writable_roots(tmp_path: Path) -> None:
    sandbox = LandlockSandbox(SandboxPolicy(mode="read-only", writable_roots=(tmp_path,)))
    assert sandbox.launcher_policy(tmp_path)["writable_roots"] == []


def test_launcher_usage_and_bad_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["true"]) == 2
    assert main(["--policy", json.dumps({"mode": "danger-full-access"}), "--", "true"]) == 125
    assert "cannot confine" in capsys.readouterr().err
    assert launcher_argv({"mode": "read-only"}, ["x"])[-2:] == ["--", "x"]


# --- seccomp -------------------------------------------------------------------------------

ARCHES = [seccomp.X86_64, seccomp.AARCH64]


def verdict(
    arch: seccomp.Arch, program: list[tuple[int, int, int, int]], name: str, *args: int
) -> int:
    return seccomp.run_program(program, seccomp.seccomp_data(arch, arch.nr[name], *args))


@pytest.mark.parametrize("arch", ARCHES, ids=lambda a: a.name)
def test_socket_rule_allows_only_unix_when_network_off(arch: seccomp.Arch) -> None:
    program = seccomp.build_program(arch, network=False, read_only=False, unix_sockets=True)
    eperm = seccomp.RET_ERRNO | errno.EPERM
    assert verdict(arch, program, "socket", 1, 1, 0) == seccomp.RET_ALLOW  # AF_UNIX
    assert verdict(arch, program, "socket", 2, 1, 0) == eperm  # AF_INET TCP
    assert verdict(arch, program, "socket", 10, 2, 0) == eperm  # AF_INET6 UDP
    assert verdict(arch, program, "socket", 16, 3, 0) == eperm  # AF_NETLINK
    on = seccomp.build_program(arch, network=True, read_only=False)
    assert verdict(arch, on, "socket", 2, 1, 0) == seccomp.RET_ALLOW


@pytest.mark.parametrize("arch", ARCHES, ids=lambda a: a.name)
def test_namespaces_and_io_uring_are_refused(arch: seccomp.Arch) -> None:
    program = seccomp.build_program(arch, network=True, read_only=False)
    eperm = seccomp.RET_ERRNO | errno.EPERM
    assert verdict(arch, program, "unshare", 0x10000000) == eperm
    assert verdict(arch, program, "setns", 3, 0) == eperm
    assert verdict(arch, program, "clone", 0x01200011) == seccomp.RET_ALLOW  # fork-like
    assert verdict(arch, program, "clone", 0x01200011 | 0x40000000) == eperm  # + CLONE_NEWNET
    assert verdict(arch, program, "clone3") == seccomp.RET_ERRNO | errno.ENOSYS
    assert verdict(arch, program, "io_uring_setup", 8, 0) == seccomp.RET_ERRNO | errno.ENOSYS


@pytest.mark.parametrize("arch", ARCHES, ids=lambda a: a.name)
def test_metadata_calls_refused_only_in_read_only(arch: seccomp.Arch) -> None:
    ro = seccomp.build_program(arch, network=False, read_only=True)
    rw = seccomp.build_program(arch, network=False, read_only=False)
    assert verdict(arch, ro, "fchmodat", 0, 0, 0o777) == seccomp.RET_ERRNO | errno.EPERM
    assert verdict(arch, ro, "utimensat", 0) == seccomp.RET_ERRNO | errno.EPERM
    assert verdict(arch, rw, "fchmodat", 0, 0, 0o777) == seccomp.RET_ALLOW


def test_foreign_abi_is_killed() -> None:
    program = seccomp.build_program(seccomp.X86_64, network=False, read_only=False)
    i386 = seccomp.Arch("i386", 0x40000003, {})
    assert seccomp.run_program(program, seccomp.seccomp_data(i386, 102)) == seccomp.RET_KILL_PROCESS
    x32_socket = seccomp.X32_SYSCALL_BIT | 41
    data = seccomp.seccomp_data(seccomp.X86_64, x32_socket, 2)
    assert seccomp.run_program(program, data) == seccomp.RET_KILL_PROCESS


def test_other_syscalls_pass_and_encoding_is_8_bytes_each() -> None:
    program = seccomp.build_program(seccomp.X86_64, network=False, read_only=True)
    assert (
        seccomp.run_program(program, seccomp.seccomp_data(seccomp.X86_64, 0, 0))
        == seccomp.RET_ALLOW
    )
    assert len(seccomp.encode(program)) == 8 * len(program)
