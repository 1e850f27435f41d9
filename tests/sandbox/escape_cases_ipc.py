"""Escape attempts through the person's session: unix sockets (tmux, ssh-agent, dbus), the
terminal, the kernel keyring, System V IPC, other processes, processes outliving the command,
and /proc links to places outside (issue 14, findings 5 and 6)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from lever.testing.procs import alive_with
from tests.sandbox.escape_cases import Attempt, case, changed, marked, py, sh
from tests.sandbox.escape_world import MARK, PY, SECRET_VALUE, World, accepted, received

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
ARCH = os.uname().machine
#: add_key and keyctl syscall numbers (glibc has no wrappers; libkeyutils may be missing).
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(ARCH, (248, 250))
KEY_SPEC_SESSION_KEYRING = -3
KEYCTL_INVALIDATE, KEYCTL_SEARCH = 21, 10
IPC_PRIVATE, IPC_CREAT, IPC_RMID, IPC_STAT = 0, 0o1000, 0, 2


# --- unix sockets ----------------------------------------------------------------------------


def unix_listener(w: World, folder: Path, name: str, kind: int = socket.SOCK_STREAM) -> str:
    """A host unix socket at folder/name (folder created, removed afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / name)
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.bind(path)
    if kind == socket.SOCK_STREAM:
        sock.listen(4)
    sock.setblocking(False)
    w.cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    w.cleanups.append(sock.close)
    w.sockets[path] = sock
    return path


def tmp_folder(w: World, prefix: str) -> Path:
    """A fresh folder in the host's real /tmp (where tmux and ssh-agent put their sockets)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    w.cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


def connects(path: str) -> list[str]:
    code = f"import socket; socket.socket(socket.AF_UNIX).connect({path!r}); print({MARK!r})"
    return py(code)


def stream_case(w: World, path: str) -> Attempt:
    return Attempt(connects(path), lambda r: accepted(w.sockets[path]) or marked(r))


@case("unix-socket-tmux-in-tmp")
def _(w: World) -> Attempt:
    # tmux's server socket: `tmux run-shell` through it would run anything outside.
    return stream_case(w, unix_listener(w, tmp_folder(w, f"tmux-{os.getuid()}-"), "default"))


@case("unix-socket-plain-tmp-folder")
def _(w: World) -> Attempt:
    return stream_case(w, unix_listener(w, tmp_folder(w, "lever-svc-"), "control.sock"))


@case("unix-socket-datagram-in-tmp")
def _(w: World) -> Attempt:
    path = unix_listener(w, tmp_folder(w, "lever-dgram-"), "log", socket.SOCK_DGRAM)
    code = f"import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'x', {path!r})"
    return Attempt(py(code), lambda _: received(w.sockets[path]))


@case("unix-socket-xdg-runtime-dir")
def _(w: World) -> Attempt:
    # A session bus in an $XDG_RUNTIME_DIR-like folder (systemd --user, dbus, pipewire).
    runtime = w.root / "run" / "user" / str(os.getuid())
    path = unix_listener(w, runtime, "bus")
    w.set_host_env(XDG_RUNTIME_DIR=str(runtime))
    return stream_case(w, path)


@case("unix-socket-ssh-agent-path")
def _(w: World) -> Attempt:
    path = unix_listener(w, w.root / f"ssh-{uuid.uuid4().hex[:8]}", "agent.4242")
    w.set_host_env(SSH_AUTH_SOCK=path)
    return stream_case(w, path)


@case("unix-socket-ssh-agent-from-env")
def _(w: World) -> Attempt:
    # The model need not know the path: the variable names it (dropped from commands' env).
    path = unix_listener(w, w.root / f"ssh-{uuid.uuid4().hex[:8]}", "agent.4243")
    w.set_host_env(SSH_AUTH_SOCK=path)
    code = (
        "import os, socket; socket.socket(socket.AF_UNIX).connect(os.environ['SSH_AUTH_SOCK']); "
        f"print({MARK!r})"
    )
    return Attempt(py(code), lambda r: accepted(w.sockets[path]) or marked(r), w.raw_env())


@case("unix-socket-outside-workspace-visible")
def _(w: World) -> Attempt:
    # Outside the known socket places: visible (read-only) under bubblewrap, which lets
    # commands make unix sockets; only its connect supervisor keeps this one out of reach.
    return stream_case(w, unix_listener(w, w.root / "svc", "control.sock"))


@case("unix-socket-through-workspace-symlink")
def _(w: World) -> Attempt:
    path = unix_listener(w, w.root / "svc-link", "control.sock")
    (w.ws / "src" / "s.sock").symlink_to(path)
    return Attempt(connects("src/s.sock"), lambda r: accepted(w.sockets[path]) or marked(r))


@case("unix-socket-through-proc-self-fd")
def _(w: World) -> Attempt:
    path = unix_listener(w, w.root / "svc-fd", "control.sock")
    code = (
        f"import os, socket; fd = os.open({path!r}, os.O_PATH); "
        "socket.socket(socket.AF_UNIX).connect(f'/proc/self/fd/{fd}'); "
        f"print({MARK!r})"
    )
    return Attempt(py(code), lambda r: accepted(w.sockets[path]) or marked(r))


@case("unix-socket-datagram-socketpair-sendto")
def _(w: World) -> Attempt:
    # socketpair() is allowed for pipes between a command's own processes; a datagram one
    # could still address any path socket with sendto.
    path = unix_listener(w, w.root / "svc-dgram", "log", socket.SOCK_DGRAM)
    code = (
        "import socket; a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); "
        f"a.sendto(b'x', {path!r})"
    )
    return Attempt(py(code), lambda _: received(w.sockets[path]))


# --- the terminal, the keyring, System V IPC -----------------------------------------------


@case("tiocsti-into-a-pty-the-test-owns", optional="TIOCSTI may be disabled by this kernel")
def _(w: World) -> Attempt:
    master, slave = os.openpty()
    w.cleanups += [lambda: os.close(master), lambda: os.close(slave)]
    # Opened without O_NOCTTY by a session leader, the pty becomes its controlling terminal.
    code = (
        "import fcntl, os, termios\n"
        f"fd = os.open({os.ttyname(slave)!r}, os.O_RDWR)\n"
        f"for c in {MARK + chr(10)!r}.encode():\n"
        "    fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))\n"
    )

    def typed(_: object) -> bool:
        ready, _w, _x = select.select([slave], [], [], 0.3)
        return bool(ready) and MARK.encode() in os.read(slave, 256)

    return Attempt([PY, "-c", code], typed)


def keyctl(*args: object) -> int:
    return int(LIBC.syscall(KEYCTL, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args]))


def session_keyring() -> int:
    """The test's session keyring, created if missing: commands it starts share it then
    (without one, each process adding a key would get a keyring of its own)."""
    return keyctl(0, KEY_SPEC_SESSION_KEYRING, 1)  # KEYCTL_GET_KEYRING_ID, create


def find_key(description: str) -> int:
    return keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, b"user", description.encode(), 0)


@case("keyring-read-session-key", optional="no kernel keyring here")
def _(w: World) -> Attempt:
    name = w.unique("lever-escape-key")
    session_keyring()
    payload = SECRET_VALUE.encode()
    key = LIBC.syscall(ADD_KEY, b"user", name.encode(), payload, len(payload), ctypes.c_long(-3))
    if key > 0:
        w.cleanups.append(lambda: keyctl(KEYCTL_INVALIDATE, key))
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None); libc.syscall.restype = ctypes.c_long\n"
        "L = ctypes.c_long\n"
        f"k = libc.syscall({KEYCTL}, L({KEYCTL_SEARCH}), L(-3), b'user', {name.encode()!r}, L(0))\n"
        "buf = ctypes.create_string_buffer(256)\n"
        f"n = libc.syscall({KEYCTL}, L(11), L(k), buf, L(256))\n"  # KEYCTL_READ
        "print(buf.raw[:max(n, 0)].decode())\n"
    )
    return Attempt(py(code), lambda r: SECRET_VALUE in r.stdout)


@case("keyring-add-session-key", optional="no kernel keyring here")
def _(w: World) -> Attempt:
    name = w.unique("lever-escape-added")
    session_keyring()

    def added(_: object) -> bool:
        key = find_key(name)
        if key > 0:
            keyctl(KEYCTL_INVALIDATE, key)
        return key > 0

    code = (
        "import ctypes; libc = ctypes.CDLL(None)\n"
        f"libc.syscall({ADD_KEY}, b'user', {name.encode()!r}, b'x', 1, ctypes.c_long(-3))\n"
    )
    return Attempt(py(code), added)


def sysv(w: World, kind: str) -> int:
    """A host System V object (removed afterwards); -1 if this kernel has none."""
    if kind == "shm":
        ident = LIBC.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
        w.cleanups.append(lambda: LIBC.shmctl(ident, IPC_RMID, None))
    elif kind == "msg":
        ident = LIBC.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
        w.cleanups.append(lambda: LIBC.msgctl(ident, IPC_RMID, None))
    else:
        ident = LIBC.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600)
        w.cleanups.append(lambda: LIBC.semctl(ident, 0, IPC_RMID))
    return int(ident)


def shm_gone(ident: int) -> bool:
    return int(LIBC.shmctl(ident, IPC_STAT, ctypes.create_string_buffer(256))) != 0


@case("sysv-shm-ipcrm", needs=("ipcrm",), optional="no System V IPC here")
def _(w: World) -> Attempt:
    ident = sysv(w, "shm")
    return Attempt(["ipcrm", "-m", str(ident)], lambda _: ident >= 0 and shm_gone(ident))


@case("sysv-shm-read-host-segment", optional="no System V IPC here")
def _(w: World) -> Attempt:
    ident = sysv(w, "shm")
    LIBC.shmat.restype = ctypes.c_void_p
    address = LIBC.shmat(ident, None, 0)
    if address not in (None, ctypes.c_void_p(-1).value):
        ctypes.memmove(address, SECRET_VALUE.encode(), len(SECRET_VALUE))
        LIBC.shmdt(ctypes.c_void_p(address))
    code = (
        "import ctypes; libc = ctypes.CDLL(None); libc.shmat.restype = ctypes.c_void_p\n"
        f"a = libc.shmat({ident}, None, 0o10000)\n"  # SHM_RDONLY
        "ok = a not in (None, 2**64 - 1)\n"
        f"print(ctypes.string_at(a, {len(SECRET_VALUE)}).decode() if ok else 'refused')\n"
    )
    return Attempt(py(code), lambda r: SECRET_VALUE in r.stdout)


@case("sysv-msg-queue-send", optional="no System V IPC here")
def _(w: World) -> Attempt:
    ident = sysv(w, "msg")
    code = (
        "import ctypes, struct; libc = ctypes.CDLL(None)\n"
        "m = ctypes.create_string_buffer(struct.pack('l', 1) + b'evil')\n"
        f"print(libc.msgsnd({ident}, m, 4, 0o4000))\n"  # IPC_NOWAIT
    )

    def queued(_: object) -> bool:
        buf = ctypes.create_string_buffer(64)
        return int(LIBC.msgrcv(ident, buf, 32, 0, 0o4000)) > 0

    return Attempt(py(code), queued)


@case("sysv-sem-ipcrm", needs=("ipcrm",), optional="no System V IPC here")
def _(w: World) -> Attempt:
    ident = sysv(w, "sem")

    def gone(_: object) -> bool:
        return ident >= 0 and int(LIBC.semctl(ident, 0, 12)) == -1  # GETVAL

    return Attempt(["ipcrm", "-s", str(ident)], gone)


# --- other processes -------------------------------------------------------------------------


@case("prlimit-outside-process", needs=("prlimit",))
def _(w: World) -> Attempt:
    proc = w.outside_process()
    limits = Path(f"/proc/{proc.pid}/limits")
    return Attempt(
        ["prlimit", "--pid", str(proc.pid), "--nofile=7:7"],
        lambda _: "Max open files            7 " in limits.read_text(),
    )


@case("renice-outside-process", needs=("renice",))
def _(w: World) -> Attempt:
    proc = w.outside_process()
    return Attempt(
        ["renice", "-n", "7", "-p", str(proc.pid)],
        lambda _: os.getpriority(os.PRIO_PROCESS, proc.pid) == 7,
    )


@case(
    "read-outside-process-cmdline",
    gaps={"landlock-no-userns": "without a user namespace /proc is the host's (documented)"},
)
def _(w: World) -> Attempt:
    proc = subprocess.Popen(
        [PY, "-c", "import time; time.sleep(60)", SECRET_VALUE], start_new_session=True
    )
    w.cleanups.append(lambda: (proc.kill(), proc.wait()))
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    for _ in range(100):  # until the host itself sees it (a loaded machine may be slow)
        if SECRET_VALUE.encode() in cmdline.read_bytes():
            break
        time.sleep(0.02)
    return Attempt(["cat", str(cmdline)], lambda r: SECRET_VALUE in r.stdout)


def outlived(tag: str) -> bool:
    """Checked after the command ended: still running half a second later (then killed)."""
    time.sleep(0.5)
    found = alive_with(tag)
    for pid in found:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    return bool(found)


def sleep_tag(w: World) -> str:
    return f"{3000 + int(w.unique('x')[-6:], 16) % 1000}.{os.getpid() % 997}"


@case("setsid-sleep-outlives-the-command", needs=("setsid",))
def _(w: World) -> Attempt:
    tag = sleep_tag(w)
    w.cleanups.append(lambda: outlived(tag))
    return Attempt(sh(f"setsid sleep {tag} > /dev/null 2>&1 &"), lambda _: outlived(tag))


@case("double-fork-outlives-the-command")
def _(w: World) -> Attempt:
    tag = sleep_tag(w)
    w.cleanups.append(lambda: outlived(tag))
    return Attempt(sh(f"( sleep {tag} > /dev/null 2>&1 & ) ; :"), lambda _: outlived(tag))


@case("python-daemon-outlives-the-command")
def _(w: World) -> Attempt:
    tag = sleep_tag(w)
    w.cleanups.append(lambda: outlived(tag))
    code = (
        "import os, subprocess\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    subprocess.Popen(['sleep', '{tag}'], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    return Attempt(py(code), lambda _: outlived(tag))


# --- /proc links to the outside --------------------------------------------------------------


@case("write-through-proc-self-root")
def _(w: World) -> Attempt:
    return Attempt(sh(f"echo pwned > /proc/self/root{w.target}"), changed(w))


@case("write-through-proc-self-cwd-dotdot")
def _(w: World) -> Attempt:
    rel = os.path.relpath(w.target, w.ws)
    return Attempt(sh(f"echo pwned > /proc/self/cwd/{rel}"), changed(w))


def process_in(w: World, cwd: Path, code: str = "import time; time.sleep(60)") -> int:
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen(
        [PY, "-c", code], cwd=cwd, start_new_session=True, stdin=quiet, stdout=quiet, stderr=quiet
    )
    w.cleanups.append(lambda: (proc.kill(), proc.wait()))
    return proc.pid


@case("write-through-proc-pid-cwd")
def _(w: World) -> Attempt:
    pid = process_in(w, w.out)
    return Attempt(sh(f"echo pwned > /proc/{pid}/cwd/{w.target.name}"), changed(w))


@case("write-through-proc-pid-root")
def _(w: World) -> Attempt:
    pid = process_in(w, w.out)
    return Attempt(sh(f"echo pwned > /proc/{pid}/root{w.target}"), changed(w))


@case("write-through-proc-pid-fd")
def _(w: World) -> Attempt:
    # An outside process holding the target open: its fd links lead straight to it.
    code = f"import time; f = open({str(w.target)!r}, 'a'); time.sleep(60)"
    pid = process_in(w, w.out, code)
    for _ in range(250):  # until it holds the file open (python may start slowly)
        with contextlib.suppress(OSError):
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(w.target) for fd in fds):
                break
        time.sleep(0.02)
    script = f'for f in /proc/{pid}/fd/*; do echo pwned >> "$f"; done 2>/dev/null; true'
    return Attempt(sh(script), changed(w))
