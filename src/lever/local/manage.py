"""The server's life as users see it: serve / stop / status, and the on-demand server of
`--provider local` (reuse the recorded one when it serves the wanted model, else start a private
one that is stopped when lever exits).
"""

from __future__ import annotations

import atexit
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lever.local import LocalError, NotPulled
from lever.local.models import DEFAULT_MODEL, find_model, local_dir, model_path
from lever.local.pull import is_pulled
from lever.local.server import (
    DEFAULT_CTX,
    DEFAULT_PORT,
    ServerSpec,
    ServerState,
    clear_state,
    find_server_binary,
    free_port,
    health,
    last_lines,
    pid_alive,
    read_state,
    start,
    stop_process,
    write_state,
)


@dataclass(frozen=True)
class LocalOptions:
    """What the user chose: a pinned model name or a GGUF path, a binary, a port."""

    model: str | None = None
    gguf: str | None = None
    server_bin: str | None = None
    port: int | None = None
    ctx_size: int = DEFAULT_CTX
    temperature: float = 0.0
    #: Parallel slots (a fleet's concurrency); each gets `ctx_size`.
    parallel: int = 1


def resolve_gguf(options: LocalOptions, home: Path | None = None) -> Path:
    """The GGUF to serve: --gguf, a model given as a path, else a pulled pinned model."""
    given = options.gguf or (options.model if _looks_like_path(options.model) else None)
    if given:
        path = Path(given).expanduser().resolve()
        if not path.is_file():
            raise LocalError(f"no GGUF file at {path}")
        return path
    model = find_model(options.model or DEFAULT_MODEL)
    if not is_pulled(model, home):
        from lever.local.models import short_name

        name = short_name(model)
        command = f"lever local pull {name}" + ("" if _has_server(options, home) else " --server")
        raise NotPulled(
            f"the local model {name} ({model.title}) is not pulled yet: run `{command}` "
            f"(downloads {model.size / 1e9:.1f} GB), or add --yes to `lever exec` to pull it now",
            name,
        )
    return model_path(model, home)


def _has_server(options: LocalOptions, home: Path | None) -> bool:
    try:
        find_server_binary(options.server_bin, home)
    except LocalError:
        return False
    return True


def _looks_like_path(value: str | None) -> bool:
    return bool(value) and (str(value).endswith(".gguf") or "/" in str(value))


def _log_path(port: int, home: Path | None) -> Path:
    return local_dir(home) / "logs" / f"llama-server-{port}.log"


def _spec(options: LocalOptions, gguf: Path, port: int, home: Path | None) -> ServerSpec:
    return ServerSpec(
        gguf=gguf,
        binary=find_server_binary(options.server_bin, home),
        port=port,
        ctx_size=options.ctx_size,
        parallel=options.parallel,
        temperature=options.temperature,
        alias=gguf.stem,
    )


def running(home: Path | None = None) -> ServerState | None:
    """The recorded server if it still runs; a stale record is removed."""
    state = read_state(home)
    if state is None:
        return None
    if not pid_alive(state.pid):
        clear_state(home)
        return None
    return state


def serve(options: LocalOptions, home: Path | None = None) -> tuple[ServerState, float]:
    """Start the recorded, detached server; (state, seconds to healthy)."""
    gguf = resolve_gguf(options, home)
    current = running(home)
    if current is not None:
        raise LocalError(
            f"a local server already runs (pid {current.pid}, port {current.port}, "
            f"{Path(current.gguf).name}): `lever local stop` first"
        )
    port = options.port or DEFAULT_PORT
    spec = _spec(options, gguf, port, home)
    log = _log_path(port, home)
    began = time.monotonic()
    process = start(spec, log, detach=True)
    state = ServerState(process.pid, port, str(gguf), str(spec.binary), str(log))
    write_state(state, home)
    return state, time.monotonic() - began


def stop(home: Path | None = None) -> ServerState | None:
    """Stop the recorded server; None when none was running."""
    state = running(home)
    if state is not None:
        stop_process(state.pid)
    clear_state(home)
    return state


def status(home: Path | None = None) -> tuple[ServerState | None, str]:
    """(recorded server or None, "ok" / "loading" / "down" / "not running")."""
    state = running(home)
    if state is None:
        return None, "not running"
    return state, health(state.port)


def crashed_log(home: Path | None = None) -> str | None:
    """The last log lines of a recorded server that died (its record is still there)."""
    state = read_state(home)
    if state is None or pid_alive(state.pid):
        return None
    return last_lines(Path(state.log))


class OnDemandServer:
    """The server behind `--provider local` for one lever run."""

    def __init__(self, base_url: str, gguf: Path, process: subprocess.Popen[bytes] | None) -> None:
        self.base_url = base_url
        self.gguf = gguf
        self.process = process
        if process is not None:
            atexit.register(self.close)

    @property
    def started(self) -> bool:
        return self.process is not None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process.pid, self.process)


def pull_missing(options: LocalOptions, home: Path | None = None) -> None:
    """Pull what `ensure_server` needs and is missing (`lever exec --provider local --yes`): the
    pinned model, and the pinned llama-server when no binary is found. Progress on stderr."""
    from lever.local.pull import pull, pull_server

    try:
        resolve_gguf(options, home)
    except NotPulled as e:
        pull(find_model(e.name), home)
    if not options.server_bin:
        try:
            find_server_binary(None, home)
        except LocalError:
            pull_server(home)


def ensure_server(options: LocalOptions, home: Path | None = None) -> OnDemandServer:
    """Reuse the recorded server if it serves the same GGUF and is healthy, else start one. A
    fleet wanting several slots gets its own (the recorded one has a single slot)."""
    gguf = resolve_gguf(options, home)
    current = running(home) if options.parallel == 1 else None
    if current is not None and Path(current.gguf) == gguf and health(current.port) == "ok":
        return OnDemandServer(current.base_url, gguf, None)
    port = options.port or free_port()
    process = start(_spec(options, gguf, port, home), _log_path(port, home))
    return OnDemandServer(f"http://127.0.0.1:{port}/v1", gguf, process)
