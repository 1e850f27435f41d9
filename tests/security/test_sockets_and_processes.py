"""Findings 5 and 6: host unix sockets, terminal injection, the kernel keyring, System V IPC,
other processes' limits, and processes that outlive their command.

Each attempt first runs without a sandbox (the control: it really works on this machine; when
the kernel itself already refuses it, the test is skipped with that reason), then confined.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lever.sandbox import seccomp
from lever.sandbox.base import NoSandbox, Sandbox
from lever.sandbox.env import command_env
from lever.sandbox.filter_exec import filter_argv
from lever.testing.procs import alive_with
from tests.security.confined import MECHANISMS, run_in, sandbox_for

PY = sys.executable


@pytest.fixture
def listener() -> Iterator[str]:
    """A unix socket listening in a folder of the host's /tmp, like tmux's or ssh-agent's."""
    folder = tempfile.mkdtemp(prefix="lever-sock-", dir="/tmp")
    path = os.path.join(folder, "default")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    yield path
    server.close()
    os.unlink(path)
    os.rmdir(folder)


def connect_code(path: str) -> str:
    return (
        f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({path!r}); print('connected')"
    )


def confined(sandbox: Sandbox, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_in(sandbox, [PY, "-c", code], cwd, command_env(os.environ))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_host_unix_socket_is_unreachable(mechanism: str, listener: str, tmp_path: Path) -> None:
    control = confined(NoSandbox(), connect_code(listener), tmp_path)
    assert "connected" in control.stdout, control.stderr
    done = confined(sandbox_for(mechanism), connect_code(listener), tmp_path)
    assert "connected" not in done.stdout and done.returncode != 0
    # socketpair (pipes between a command's own processes) still works.
    pair = "import socket; a, b = socket.socketpair(); a.send(b'ok'); print(b.recv(2).decode())"
    assert confined(sandbox_for(mechanism), pair, tmp_path).stdout.strip() == "ok"


def test_unix_sockets_switch_lets_them_through(listener: str, tmp_path: Path) -> None:
    done = confined(sandbox_for("landlock", unix_sockets=True), connect_code(listener), tmp_path)
    assert "connected" in done.stdout, done.stderr


def test_filter_launcher_refuses_unix_sockets_and_keyring(listener: str, tmp_path: Path) -> None:
    # What bubblewrap runs inside its namespaces; checked here even where bwrap is missing.
    argv = [*filter_argv({"network": False, "unix_sockets": False}), PY, "-c"]
    done = subprocess.run([*argv, connect_code(listener)], capture_output=True, text=True)
    assert "connected" not in done.stdout and "PermissionError" in done.stderr
    done = subprocess.run([*argv, KEYCTL], capture_output=True, text=True)
    assert done.stdout.strip() == "refused", done.stderr


TIOCSTI = """
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    print("injected")
except OSError as e:
    print("refused", e)
"""


def with_controlling_terminal(sandbox: Sandbox, cwd: Path) -> str:
    """Run the TIOCSTI attempt with a pty as its controlling terminal, as `lever sandbox --`
    run from a terminal would."""
    master, slave = os.openpty()
    try:
        argv = sandbox.wrap([PY, "-c", TIOCSTI], cwd, command_env(os.environ))
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=slave,
            capture_output=True,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            timeout=30,
            check=False,
        )
        return done.stdout + done.stderr
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_tiocsti_cannot_type_into_the_terminal(mechanism: str, tmp_path: Path) -> None:
    control = with_controlling_terminal(NoSandbox(), tmp_path)
    if "injected" not in control:
        pytest.skip(f"this kernel already refuses TIOCSTI: {control.strip()}")
    assert "refused" in with_controlling_terminal(sandbox_for(mechanism), tmp_path)


KEYCTL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nr = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
# KEYCTL_GET_KEYRING_ID of the session keyring (-3), without creating it.
print("refused" if libc.syscall(nr, 0, ctypes.c_long(-3), 0) < 0 else "readable")
"""


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_session_keyring_is_out_of_reach(mechanism: str, tmp_path: Path) -> None:
    control = confined(NoSandbox(), KEYCTL, tmp_path)
    if "readable" not in control.stdout:
        pytest.skip(f"keyring unavailable here: {control.stdout}{control.stderr}")
    assert confined(sandbox_for(mechanism), KEYCTL, tmp_path).stdout.strip() == "refused"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_host_shared_memory_cannot_be_removed(mechanism: str, tmp_path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(0, 4096, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
    if shmid < 0:
        pytest.skip("System V shared memory unavailable")
    remove = f"import ctypes; print(ctypes.CDLL(None).shmctl({shmid}, 0, None))"  # IPC_RMID
    try:
        done = confined(sandbox_for(mechanism), remove, tmp_path)
        assert done.stdout.strip() == "-1", done
        assert libc.shmctl(shmid, 2, ctypes.create_string_buffer(128)) == 0  # IPC_STAT: still there
    finally:
        libc.shmctl(shmid, 0, None)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_limits_of_other_processes_cannot_be_changed(mechanism: str, tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "30"])
    code = f"import resource; resource.prlimit({victim.pid}, resource.RLIMIT_NOFILE, (7, 7))"
    try:
        assert confined(sandbox_for(mechanism), code, tmp_path).returncode != 0
        limits = Path(f"/proc/{victim.pid}/limits").read_text()
        assert "Max open files            7 " not in limits
    finally:
        victim.kill()
        victim.wait()


def seen_soon(marker: str, seconds: float = 3.0) -> list[int]:
    """The processes marked `marker`, waiting for one: read in the middle of an exec, a
    process's command line is briefly empty, and a busy machine can be slow to start it."""
    deadline = time.monotonic() + seconds
    while not (found := alive_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def gone_soon(marker: str, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive_with(marker):
            return True
        time.sleep(0.05)
    return False


ESCAPES = {
    "setsid": "setsid sleep {n} > /dev/null 2>&1 &",
    "double fork": "( sleep {n} > /dev/null 2>&1 & ) ; :",
    "new group": f"{PY} -c 'import os, time; os.setpgid(0, 0); time.sleep({{n}})'"
    + " >/dev/null 2>&1 &",
}


@pytest.mark.parametrize("how", sorted(ESCAPES))
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_nothing_outlives_the_command(mechanism: str, how: str, tmp_path: Path) -> None:
    sandbox = sandbox_for(mechanism)
    n = f"{1000 + os.getpid() % 1000}.{abs(hash((mechanism, how))) % 997}"
    script = ESCAPES[how].format(n=n)
    control = run_in(NoSandbox(), ["sh", "-c", script], tmp_path, command_env(os.environ))
    try:
        assert control.returncode == 0 and seen_soon(n), "the control should leave a process"
    finally:
        for pid in alive_with(n):
            os.kill(pid, signal.SIGKILL)
    assert gone_soon(n)
    done = run_in(sandbox, ["sh", "-c", script], tmp_path, command_env(os.environ))
    assert done.returncode == 0, done.stderr
    # bubblewrap reports the command's end before its pid namespace is torn down (the kernel
    # kills what is left there a few milliseconds later): allow that moment, no more.
    gone_soon(n, seconds=2.0)
    leftover = alive_with(n)
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == [], f"{how}: still running after the command"


@pytest.mark.parametrize("arch", [seccomp.X86_64, seccomp.AARCH64], ids=lambda a: a.name)
def test_filter_rules(arch: seccomp.Arch) -> None:
    eperm = seccomp.RET_ERRNO | 1

    def verdict(program: list[tuple[int, int, int, int]], name: str, *args: int) -> int:
        return seccomp.run_program(program, seccomp.seccomp_data(arch, arch.nr[name], *args))

    off = seccomp.build_program(arch, network=False, read_only=False)
    on = seccomp.build_program(arch, network=True, read_only=False)
    unix = seccomp.build_program(arch, network=True, read_only=False, unix_sockets=True)
    assert verdict(off, "socket", 1, 1, 0) == eperm and verdict(on, "socket", 1, 1, 0) == eperm
    assert verdict(on, "socket", 2, 1, 0) == seccomp.RET_ALLOW
    assert verdict(unix, "socket", 1, 1, 0) == seccomp.RET_ALLOW
    assert verdict(off, "ioctl", 0, seccomp.TIOCSTI) == eperm
    assert verdict(off, "ioctl", 0, seccomp.TIOCSTI | 1 << 32) == eperm  # high bits ignored
    assert verdict(off, "ioctl", 0, seccomp.TIOCLINUX) == eperm
    assert verdict(off, "ioctl", 0, termios.TIOCGWINSZ) == seccomp.RET_ALLOW
    for name in ("add_key", "request_key", "keyctl", "shmget", "shmctl", "msgget", "semget"):
        assert verdict(off, name) == eperm, name
    assert verdict(off, "prlimit64", 0, 7) == seccomp.RET_ALLOW
    assert verdict(off, "prlimit64", 1234, 7) == eperm


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_command_status_survives_the_launcher(mechanism: str, tmp_path: Path) -> None:
    sandbox = sandbox_for(mechanism)
    env = command_env(os.environ)
    assert run_in(sandbox, ["sh", "-c", "exit 7"], tmp_path, env).returncode == 7
    killed = run_in(sandbox, ["sh", "-c", "kill -9 $$"], tmp_path, env).returncode
    # bubblewrap's own init reports a child killed by a signal as 128 + the signal, as a shell
    # does; the Landlock launcher re-raises it, so lever sees the signal itself.
    assert killed == (128 + 9 if mechanism == "bwrap" else -9)
    missing = run_in(sandbox, ["/nonexistent/cmd"], tmp_path, env)
    assert missing.returncode == 127 and "nonexistent" in missing.stderr
