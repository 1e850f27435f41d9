"""A throwaway world for escape tests: a git workspace, outside targets, host-side witnesses.

Everything lives under /var/tmp (not /tmp): bubblewrap gives commands their own /tmp, and a
target hidden by that would make a failed write prove nothing. Under /var/tmp the targets stay
visible (read-only) inside the sandbox, and workspace and targets share a file system, so hard
links are possible outside.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lever.sandbox.base import NoSandbox, Sandbox, SandboxPolicy
from lever.sandbox.env import command_env
from lever.sandbox.protect import after_command, before_command

PY = sys.executable
ORIGINAL = "original\n"
SECRET_NAME = "LEVER_ESCAPE_TEST_API_KEY"
SECRET_VALUE = "s3cr3t-value-for-escape-tests"
MARK = "ESCAPED"


def base_dir() -> Path:
    for candidate in ("/var/tmp", tempfile.gettempdir()):
        if os.access(candidate, os.W_OK):
            return Path(candidate)
    raise RuntimeError("no writable temp base")


@cache
def git_template() -> Path:
    """One `git init` per test process, copied into each world (faster than re-running git)."""
    path = Path(tempfile.mkdtemp(prefix="lever-git-template-", dir=base_dir()))
    atexit.register(shutil.rmtree, path, True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "README.md").write_text("hello\n")
    (path / "src").mkdir()
    (path / "src" / "main.py").write_text("print('hi')\n")
    return path


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class World:
    root: Path
    ws: Path
    out: Path
    target: Path
    env: dict[str, str]
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    #: What lever told the person about protected files it restored (see protect.py).
    told: list[str] = field(default_factory=list)
    #: lever's own environment while it builds the sandbox (a fake HOME, sockets, secrets).
    host_env: dict[str, str] = field(default_factory=dict)
    #: Host unix sockets a case listens on, by path.
    sockets: dict[str, socket.socket] = field(default_factory=dict)

    @classmethod
    def create(cls) -> World:
        root = Path(tempfile.mkdtemp(prefix="lever-escape-", dir=base_dir())).resolve()
        ws = root / "ws"
        shutil.copytree(git_template(), ws, symlinks=True)
        (ws / ".lever").mkdir()
        out = root / "outside"
        out.mkdir()
        target = out / "target.txt"
        target.write_text(ORIGINAL)
        environ = {**os.environ, SECRET_NAME: SECRET_VALUE}
        world = cls(root, ws, out, target, command_env(environ))
        world.cleanups.append(lambda: shutil.rmtree(root, ignore_errors=True))
        return world

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):  # the other cleanups must still run
                cleanup()

    def set_host_env(self, **values: str) -> None:
        """Variables of lever's own environment (the commands' env is derived from it)."""
        self.host_env.update(values)
        self.env = command_env({**os.environ, SECRET_NAME: SECRET_VALUE, **self.host_env})

    def raw_env(self) -> dict[str, str]:
        """What a command run by hand (no lever) would get: the control run's environment."""
        return {**os.environ, SECRET_NAME: SECRET_VALUE, **self.host_env}

    def fake_home(self, files: dict[str, str]) -> Path:
        """A HOME holding `files` (path under it -> content), lever's HOME from now on."""
        home = self.root / "home"
        for rel, content in files.items():
            (home / rel).parent.mkdir(parents=True, exist_ok=True)
            (home / rel).write_text(content)
        self.set_host_env(HOME=str(home))
        return home

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def host_path(self, directory: str) -> Path:
        """A fresh path in a host directory (/etc, /usr, $HOME, /tmp), removed afterwards."""
        path = Path(directory) / self.unique(".lever-escape-test")
        self.cleanups.append(lambda: path.unlink(missing_ok=True))
        return path

    def outside_process(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)

        def stop() -> None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

        self.cleanups.append(stop)
        return proc

    def server(self, kind: int, address: str | bytes = "127.0.0.1") -> socket.socket:
        sock = socket.socket(socket.AF_UNIX if isinstance(address, bytes) else socket.AF_INET, kind)
        sock.bind(address if isinstance(address, bytes) else (address, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(4)
        sock.setblocking(False)
        self.cleanups.append(sock.close)
        return sock

    def dns_server(self) -> tuple[int, list[bytes]]:
        """A loopback UDP "DNS server" answering every query; returns its port and queries."""
        sock = self.server(socket.SOCK_DGRAM)
        sock.settimeout(0.1)
        seen: list[bytes] = []
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    query, peer = sock.recvfrom(512)
                except (TimeoutError, OSError):
                    continue
                seen.append(query)
                # Same id, QR bit set, no answers: any reply proves the lookup reached us.
                flags = struct.pack(">H", 0x8180)
                sock.sendto(query[:2] + flags + query[4:], peer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(1)

        self.cleanups.insert(1, halt)
        return sock.getsockname()[1], seen

    def run(
        self,
        sandbox: Sandbox,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: str = "",
    ) -> Result:
        """Run as lever runs a command: wrapped, with .git / .lever checked around it (the note
        the model would get is appended to stdout)."""
        env = self.env if env is None else env
        workdir = self.ws / cwd
        with patched_environ(self.host_env):
            wrapped = sandbox.wrap(argv, workdir, env)

        def tell(event: object) -> None:
            self.told.append(str(event))

        note = before_command(sandbox, workdir, tell, background=False, outside=False)
        try:
            done = subprocess.run(
                wrapped,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                start_new_session=True,
            )
        finally:
            note += after_command(sandbox, workdir, tell, outside=False)
        return Result(
            done.returncode,
            done.stdout.decode(errors="replace") + note,
            done.stderr.decode(errors="replace"),
        )


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` while lever computes the sandbox (hidden places, sockets)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def accepted(sock: socket.socket) -> bool:
    """Whether a client connected (the kernel completes the handshake before accept)."""
    try:
        conn, _ = sock.accept()
    except (BlockingIOError, OSError):
        return False
    conn.close()
    return True


def received(sock: socket.socket) -> bool:
    try:
        sock.recv(64)
    except (BlockingIOError, OSError):
        return False
    return True


def died(proc: subprocess.Popen[bytes]) -> bool:
    for _ in range(20):
        if proc.poll() is not None:
            return True
        time.sleep(0.01)
    return False


def no_sandbox() -> Sandbox:
    return NoSandbox(SandboxPolicy())
