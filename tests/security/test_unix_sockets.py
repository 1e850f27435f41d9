"""Unix sockets under bubblewrap (issue 14): commands may make stream unix sockets, so
multiprocessing and a database server in the workspace work, while connect() reaches only
sockets made in the workspace or the private temp dir (notify_connect.py); never a host socket.
Landlock keeps refusing AF_UNIX sockets (its supervisor runs outside any network namespace)."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lever.sandbox import seccomp
from lever.sandbox.base import NoSandbox
from lever.sandbox.env import command_env
from tests.security.confined import MECHANISMS, run_in, sandbox_for

PY = sys.executable

POOL = """
import multiprocessing, socket, os
def square(x):
    return x * x
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print("pool", pool.map(square, [1, 2, 3]))
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        print("forkserver", pool.map(square, [4]))
    server = socket.socket(socket.AF_UNIX); server.bind("db.sock"); server.listen(1)
    client = socket.socket(socket.AF_UNIX); client.connect("db.sock")
    peer, _ = server.accept(); client.send(b"select 1"); print("db", peer.recv(8).decode())
    os.unlink("db.sock")
"""


def test_multiprocessing_and_workspace_sockets_work_under_bwrap(tmp_path: Path) -> None:
    sandbox = sandbox_for("bwrap")
    (tmp_path / "job.py").write_text(POOL)
    done = run_in(sandbox, [PY, "job.py"], tmp_path, command_env(os.environ), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["pool [1, 4, 9]", "forkserver [16]", "db select 1"]


@pytest.fixture
def host_socket() -> Iterator[tuple[str, socket.socket]]:
    """A unix socket listening in a folder this test makes under the host's /tmp."""
    folder = tempfile.mkdtemp(prefix="lever-host-svc-", dir="/tmp")
    path = os.path.join(folder, "control.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)
    server.setblocking(False)
    yield path, server
    server.close()
    os.unlink(path)
    os.rmdir(folder)


def accepted(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_host_socket_under_tmp_stays_unreachable(
    mechanism: str, host_socket: tuple[str, socket.socket], tmp_path: Path
) -> None:
    path, server = host_socket
    code = f"import socket; socket.socket(socket.AF_UNIX).connect({path!r}); print('connected')"
    env = command_env(os.environ)
    control = run_in(NoSandbox(), [PY, "-c", code], tmp_path, env)
    assert "connected" in control.stdout and accepted(server), control.stderr
    (tmp_path / "link.sock").symlink_to(path)
    for target in (path, "link.sock"):
        attempt = code.replace(repr(path), repr(target))
        done = run_in(sandbox_for(mechanism), [PY, "-c", attempt], tmp_path, env)
        assert "connected" not in done.stdout and done.returncode != 0, done
        assert not accepted(server)


@pytest.mark.parametrize("arch", [seccomp.X86_64, seccomp.AARCH64], ids=lambda a: a.name)
def test_supervised_unix_filter_rules(arch: seccomp.Arch) -> None:
    eperm = seccomp.RET_ERRNO | 1

    def verdict(program: list[tuple[int, int, int, int]], name: str, *args: int) -> int:
        return seccomp.run_program(program, seccomp.seccomp_data(arch, arch.nr[name], *args))

    nonblock_cloexec = 0o4000 | 0o2000000
    off = seccomp.build_program(arch, network=False, read_only=False, supervised_unix=True)
    on = seccomp.build_program(arch, network=True, read_only=False, supervised_unix=True)
    for program in (off, on):
        assert verdict(program, "socket", 1, 1) == seccomp.RET_ALLOW  # AF_UNIX, SOCK_STREAM
        assert verdict(program, "socket", 1, 5 | nonblock_cloexec) == seccomp.RET_ALLOW
        assert verdict(program, "socket", 1, 2) == eperm  # SOCK_DGRAM
        assert verdict(program, "socket", 1, 2 | nonblock_cloexec) == eperm
        assert verdict(program, "socketpair", 1, 1) == seccomp.RET_ALLOW
        assert verdict(program, "socketpair", 1, 2) == eperm
        assert verdict(program, "connect", 3, 0, 110) == seccomp.RET_USER_NOTIF
    assert (
        verdict(off, "socket", 2, 1) == eperm and verdict(on, "socket", 2, 1) == seccomp.RET_ALLOW
    )
    plain = seccomp.build_program(arch, network=False, read_only=False)
    assert verdict(plain, "connect", 3, 0, 110) == seccomp.RET_ALLOW  # no socket to connect
    assert verdict(plain, "socketpair", 1, 2) == eperm
