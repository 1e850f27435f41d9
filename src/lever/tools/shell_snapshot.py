"""The login shell's environment, taken once per session (DESIGN.md §4, as Codex CLI does).

Running every string command as `bash -lc` made each one pay the person's login scripts (a
pyenv set-up alone costs ~0.4 s) and, under a sandbox that keeps HOME read-only, put their
complaints into every command's output. Instead, when the session starts, one login bash runs
outside the sandbox (stdin /dev/null, its own output and errors discarded, at most `timeout_s`)
and prints its exported variables, aliases and functions. What it set up is written to a
snapshot file; each string command then runs as `bash -c COMMAND` with `BASH_ENV` naming that
file, so bash reads it (quietly) before the command and the profile never runs again. Argv
commands get the snapshot's variables (PATH above all) in their environment.

The variables pass through the rule that made the session's own environment (`command_env`:
secret-looking names dropped, `shell_environment` applied), and only those the login shell
added or changed are carried: a `.bashrc` can neither re-export a token lever filtered out nor
override what lever sets on purpose (PAGER, TERM, the sandbox's TMPDIR...). Where the snapshot
fails, commands run as `bash -lc` as before, and the person is told once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lever.protocol.events import ErrorEvent
from lever.sandbox.env import command_env
from lever.tools.base import ToolContext
from lever.tools.processes import group_alive

log = logging.getLogger(__name__)

#: Makes a command environment out of a raw one (the session's `shell_environment` rule).
EnvRule = Callable[[Mapping[str, str]], dict[str, str]]
#: How long a session's end waits for its login shell to finish before stopping it.
CLOSE_GRACE_S = 2.0

SNAPSHOT_TIMEOUT_S = 10.0
FILE_NAME = "shell_snapshot.sh"
_MARK = "__LEVER_SNAPSHOT__"
# Sections separated by NUL-framed marks: whatever the profile printed comes before the first.
_CAPTURE = (
    f"printf '\\0{_MARK}\\0'; env -0; printf '\\0{_MARK}\\0'; alias -p; "
    f"printf '\\0{_MARK}\\0'; declare -f; printf '\\0{_MARK}\\0'"
)
#: Never carried: the printing shell's own state, how lever loads the snapshot, bash's
#: read-only option lists, and TMPDIR, which the sandbox points at the session's own folder.
_NOT_CARRIED = frozenset(
    {"PWD", "OLDPWD", "SHLVL", "_", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "TMPDIR"}
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALIAS = re.compile(r"alias ([^=\s]+)=(.*)", re.DOTALL)
#: An alias like `rm='rm -i'` would make commands wait for a "y" that never comes (stdin is
#: /dev/null, so they answer "no"): such aliases are left out.
_PROMPTING_FLAGS = frozenset({"-i", "-I", "--interactive"})


class SnapshotError(Exception):
    """The login shell's output could not be turned into a snapshot."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    #: What the login shell added or changed, after the environment rule.
    variables: dict[str, str]


class ShellSnapshot:
    """One session's snapshot: `start` runs the login shell, `get` waits for the result."""

    def __init__(
        self,
        *,
        env_rule: EnvRule = command_env,
        timeout_s: float = SNAPSHOT_TIMEOUT_S,
        shell: str = "bash",
    ) -> None:
        self.env_rule = env_rule
        self.timeout_s = timeout_s
        self.shell = shell
        #: Why there is no snapshot (None while there is one or it is still being taken).
        self.failure: str | None = None
        #: Set once the person was told that commands fell back to `bash -lc`.
        self.noticed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._started = 0.0
        self._env: dict[str, str] = {}
        self._path: Path | None = None
        self._own_folder: Path | None = None
        self._result: Snapshot | None = None
        self._done = False
        self._lock: asyncio.Lock | None = None

    def start(self, env: Mapping[str, str], cwd: Path, folder: Path | None) -> None:
        """Start the login shell (once); it runs while the session sends its first request."""
        if self._proc is not None or self._done:
            return
        self._env = dict(env)
        if folder is None:
            self._own_folder = folder = Path(tempfile.mkdtemp(prefix="lever-shell-"))
        self._path = folder / FILE_NAME
        # Closed by close(); a file, not a pipe, so nothing has to read while the shell runs.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._started = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                [self.shell, "-l", "-c", _CAPTURE],
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=subprocess.DEVNULL,
                cwd=cwd,
                env=self._env,
                # Its own session: no terminal to stop on, and a timeout kills all it started.
                start_new_session=True,
            )
        except OSError as exc:
            self._fail(f"could not start {self.shell}: {exc.strerror or exc}")

    async def get(self, env: Mapping[str, str], cwd: Path, folder: Path | None) -> Snapshot | None:
        """The snapshot, or None (see `failure`) when commands must run as `bash -lc`."""
        self.start(env, cwd, folder)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._done:
                await self._finish()
        return self._result

    def close(self) -> None:
        """Stop a login shell still running; remove the snapshot if it lives in a temp folder."""
        if self._proc is not None and self._proc.poll() is None:
            # A session that ends right away would otherwise kill the login mid-way through its
            # scripts; one killed inside `pyenv rehash` leaves pyenv's lock behind, and every
            # later login on the machine waits 60 s for it. Let it finish (bounded) first.
            left = self._started + self.timeout_s - time.monotonic()
            try:
                self._proc.wait(timeout=max(0.0, min(left, CLOSE_GRACE_S)))
            except subprocess.TimeoutExpired:
                _kill_group(self._proc)
        if self._out is not None:
            self._out.close()
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)

    async def _finish(self) -> None:
        proc, out, path = self._proc, self._out, self._path
        assert proc is not None and out is not None and path is not None
        remaining = max(self._started + self.timeout_s - time.monotonic(), 0.0)
        try:
            await asyncio.to_thread(proc.wait, remaining)
        except subprocess.TimeoutExpired:
            await asyncio.to_thread(_kill_group, proc)
            self._fail(f"the login shell took longer than {self.timeout_s:g} s")
            return
        out.seek(0)
        data = out.read()
        out.close()
        try:
            variables, aliases, functions = _parse(data)
            carried = {
                name: value
                for name, value in self.env_rule(variables).items()
                if name not in _NOT_CARRIED and self._env.get(name) != value
            }
            await self._write(path, carried, aliases, functions)
        except (SnapshotError, OSError) as exc:
            self._fail(str(exc))
            return
        took = time.monotonic() - self._started
        log.debug("shell snapshot %s in %.2f s: %d variables", path, took, len(carried))
        self._result = Snapshot(path=path, variables=carried)
        self._done = True

    async def _write(
        self, path: Path, variables: dict[str, str], aliases: list[str], functions: str
    ) -> None:
        """Write the file; if bash cannot read its aliases and functions, keep the variables."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, _render(variables, aliases, functions))
        if aliases or functions:
            problem = await self._check(path)
            if problem:
                log.warning("shell snapshot: aliases and functions left out (%s)", problem)
                _write_private(path, _render(variables, [], ""))

    async def _check(self, path: Path) -> str:
        """bash's complaint when reading the snapshot, or "" (a function it cannot re-read)."""
        env = {name: value for name, value in self._env.items() if name != "BASH_ENV"}
        proc = await asyncio.create_subprocess_exec(
            self.shell, "--norc", "--noprofile", "-c", '. "$1"', "bash", str(path),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return "reading it took too long"
        text = err.decode(errors="replace").strip()
        return text or ("" if proc.returncode == 0 else f"exit code {proc.returncode}")

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self._done = True
        log.info("shell snapshot failed: %s", reason)


@dataclass(frozen=True)
class Launch:
    """How one command starts."""

    argv: list[str]
    env: Mapping[str, str]
    #: Run as `bash -lc`: the login scripts run with it and may print into its output.
    login: bool = False


async def prepare(
    command: str | list[str], snapshot: ShellSnapshot | None, ctx: ToolContext
) -> Launch:
    """The argv and environment for `command`: through the snapshot, else `bash -lc`."""
    taken = None
    if snapshot is not None:
        taken = await snapshot.get(ctx.env, ctx.cwd, ctx.artifacts_dir)
        if taken is None and not snapshot.noticed:
            snapshot.noticed = True  # once per session, not once per command
            ctx.emit(ErrorEvent(kind="shell_snapshot", message=_notice(snapshot.failure)))
    variables = taken.variables if taken is not None else {}
    if isinstance(command, list):
        return Launch(list(command), {**ctx.env, **variables})
    if taken is None or not taken.path.is_file():
        return Launch(["bash", "-lc", command], ctx.env, login=True)
    return Launch(["bash", "-c", command], {**ctx.env, **variables, "BASH_ENV": str(taken.path)})


def _notice(reason: str | None) -> str:
    return (
        f"could not take the login shell's environment ({reason or 'unknown reason'}); "
        "commands run as `bash -lc`, so each one runs the login scripts again"
    )


def snapshot_from_config(config: Mapping[str, object], env_rule: EnvRule) -> ShellSnapshot | None:
    """Config `shell_snapshot = false` turns the snapshot off (string commands use `bash -lc`)."""
    enabled = config.get("shell_snapshot", True)
    if not isinstance(enabled, bool):
        from lever.config.providers import ConfigError

        raise ConfigError(f"`shell_snapshot` must be true or false (got {enabled!r})")
    return ShellSnapshot(env_rule=env_rule) if enabled else None


def _parse(data: bytes) -> tuple[dict[str, str], list[str], str]:
    parts = data.split(f"\0{_MARK}\0".encode())
    if len(parts) < 5:
        raise SnapshotError("the login shell ended before printing its environment")
    _, env_part, alias_part, function_part = parts[:4]
    variables: dict[str, str] = {}
    for entry in env_part.split(b"\0"):
        name, sep, value = os.fsdecode(entry).partition("=")
        # Exported functions show up as BASH_FUNC_name%%: `declare -f` carries them.
        if sep and _NAME.fullmatch(name) and name not in _NOT_CARRIED:
            variables[name] = value
    return variables, _aliases(os.fsdecode(alias_part)), os.fsdecode(function_part)


def _aliases(text: str) -> list[str]:
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith("alias ") or not entries:
            entries.append(line)
        else:  # an alias whose value spans lines
            entries[-1] += "\n" + line
    return [entry for entry in entries if not _prompts(entry)]


def _prompts(entry: str) -> bool:
    match = _ALIAS.fullmatch(entry)
    if match is None:
        return True  # not an alias line: leave it out
    try:
        words = shlex.split(shlex.split(match.group(2))[0]) if match.group(2) else []
    except (ValueError, IndexError):
        return True
    return bool(_PROMPTING_FLAGS.intersection(words))


def _render(variables: dict[str, str], aliases: list[str], functions: str) -> str:
    lines = [
        "# lever's shell snapshot: what a login bash set up when the session started. Each",
        "# string command reads it through BASH_ENV instead of running the login scripts.",
        "unset BASH_ENV",
        "{",
        *(f"export {name}={shlex.quote(value)}" for name, value in sorted(variables.items())),
        "shopt -s expand_aliases",
        *aliases,
        functions.rstrip("\n"),
        "} 2>/dev/null",
        "",
    ]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.fsencode(text))
    os.replace(tmp, path)


def _kill_group(proc: subprocess.Popen[bytes], grace_s: float = 2.0) -> None:
    """SIGTERM first: the scripts then run their EXIT traps (pyenv's removes the lock it holds
    on its shims folder; a lock left behind makes every later login wait for it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and (proc.poll() is None or group_alive(proc.pid)):
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2)
