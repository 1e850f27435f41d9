"""Commands as process groups: run with a timeout, yield to the background, poll, kill, clean up.

One `ProcessManager` belongs to a session. Every command starts in its own session and process
group (`start_new_session=True`), so a timeout, an interrupt, `kill` or the end of the session can
signal the whole group, and nothing the command spawned outlives it. stdout and stderr share one
pipe so their interleaving is the one a terminal would show; stdin is /dev/null unless the caller
keeps it open, so an interactive program sees EOF instead of hanging forever.

Memory is bounded whatever the model starts: at most `max_processes` (64) processes are kept at
once, and each keeps at most `max_buffer_bytes` (1 MiB) of unread output in memory, its head and
its rolling tail. Given an `output_file`, a process whose output outgrows `spill_after` bytes
has it written there as it arrives (its head and tail, `MAX_FILE_BYTES` in all).

Given `limits`, each command also gets its rlimits and, where one can be made, a cgroup of its
own (`lever.sandbox.cgroup`): its process limit then binds root too, and whatever the command
left outside its process group (`setsid`, a double fork) is killed with the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lever.sandbox.cgroup import Scope
from lever.tools.command_limits import CommandLimits
from lever.tools.process_groups import Lingering, group_alive, preexec, signal_group, start_error
from lever.tools.process_output import (
    MAX_BUFFER_BYTES,
    MAX_FILE_BYTES,
    SPILL_AFTER_BYTES,
    OutputBuffer,
    OutputFile,
)
from lever.tools.truncate import StreamDecoder

log = logging.getLogger(__name__)

#: Receives live output, decoded incrementally (never a split UTF-8 character).
ChunkCallback = Callable[[str], None]

MAX_PROCESSES = 64


class ProcessError(Exception):
    """A request the manager cannot honour: unknown process id, stdin not open, bad state."""


class ProcessStartError(ProcessError):
    """The command could not be started at all (program not found, not executable, bad cwd)."""


@dataclass
class ProcessResult:
    #: Output (stdout and stderr merged) produced since the previous run/poll of this process.
    output: bytes
    #: The process's return code once it exited (negative: killed by that signal); None while
    #: it is still running.
    exit_code: int | None
    running: bool
    #: Milliseconds from start to exit, or to now while it still runs.
    duration_ms: int
    #: Set when the process is still running (poll it with this id) and on results of polls.
    process_id: str | None = None
    #: The command's lifetime passed `timeout_ms`; its process group was killed.
    timed_out: bool = False
    #: Stopped by `kill()` or `close()`.
    killed: bool = False
    timeout_ms: int | None = None
    pid: int = 0
    #: Bytes of output dropped because unread output passed the manager's buffer limit.
    dropped_bytes: int = 0
    #: The process has a stdin pipe (started with keep_stdin_open) that poll can write to.
    stdin_open: bool = False
    #: The file holding all the process's output so far, once it outgrew `spill_after`.
    output_file: Path | None = None
    #: Which resource limit the way it ended points at, for the model ("" when none).
    limit_note: str = ""


@dataclass(eq=False)
class _Proc:
    proc: asyncio.subprocess.Process
    started: float
    timeout_ms: int | None
    buffer: OutputBuffer
    stdin_open: bool
    spill: OutputFile
    on_chunk: ChunkCallback | None = None
    decoder: StreamDecoder = field(default_factory=StreamDecoder)
    transport: asyncio.ReadTransport | None = None
    eof: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    supervisor: asyncio.Task[None] | None = None
    id: str | None = None
    ended: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    killed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The command's cgroup, where one could be made.
    scope: Scope | None = None
    #: Forks refused at the scope's process limit, read when the command exited.
    limit_hits: int = 0
    #: Processes the kernel killed at the scope's memory limit, read when the command exited.
    memory_hits: int = 0

    @property
    def pgid(self) -> int:
        # start_new_session makes the child a session and group leader: pgid == pid.
        return self.proc.pid

    def duration_ms(self) -> int:
        end = self.ended if self.ended is not None else time.monotonic()
        return int((end - self.started) * 1000)

    def feed(self, data: bytes) -> None:
        self.buffer.append(data)
        self.spill.add(data)
        self.emit(self.decoder.decode(data))

    def emit(self, text: str) -> None:
        if text and self.on_chunk is not None:
            try:
                self.on_chunk(text)
            except Exception:  # a broken display must not stop the capture
                log.exception("output chunk callback failed")


class _PipeProtocol(asyncio.Protocol):
    def __init__(self, target: _Proc) -> None:
        self.target = target

    def data_received(self, data: bytes) -> None:
        self.target.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.target.emit(self.target.decoder.decode(b"", final=True))
        self.target.spill.close()
        self.target.eof.set()


class ProcessManager:
    """Runs a session's commands and keeps the ones still running after `yield_ms`."""

    def __init__(
        self,
        *,
        kill_grace_s: float = 0.5,
        drain_s: float = 0.2,
        max_buffer_bytes: int = MAX_BUFFER_BYTES,
        max_processes: int = MAX_PROCESSES,
        spill_after: int = SPILL_AFTER_BYTES,
        limits: CommandLimits | None = None,
    ) -> None:
        #: Time between SIGTERM and SIGKILL when stopping a process group.
        self.kill_grace_s = kill_grace_s
        #: After the command exits, how long to wait for the pipe to close (descendants that
        #: keep it open, e.g. `server &`, are then no longer read).
        self.drain_s = drain_s
        self.max_buffer_bytes = max_buffer_bytes
        #: Processes kept at once (running, or finished with output not yet read).
        self.max_processes = max_processes
        self.spill_after = spill_after
        #: The rlimits of every command (`lever.tools.command_limits`); None: lever's own.
        self.limits = limits
        self._ids = itertools.count(1)
        #: Every process not yet fully reported, by object; backgrounded ones also by id.
        self._live: set[_Proc] = set()
        self._by_id: dict[str, _Proc] = {}
        #: Commands that exited while processes they started lived on; killed by `close()`.
        self._lingering: list[Lingering] = []
        self._closed = False

    def running_ids(self) -> list[str]:
        """Ids of the background processes the model can poll (state to re-inject, DESIGN §11)."""
        return list(self._by_id)

    def busy(self) -> bool:
        """Whether a command may still run: backgrounded, or a group whose leader exited while
        other members live on (`cmd &`). Such a command can change files at any moment."""
        self._settle_lingering()
        return bool(self._by_id) or bool(self._lingering)

    async def run(
        self,
        argv: Sequence[str],
        cwd: Path | str,
        env: Mapping[str, str] | None = None,
        timeout_ms: int | None = 120_000,
        yield_ms: int = 10_000,
        keep_stdin_open: bool = False,
        on_chunk: ChunkCallback | None = None,
        output_file: Path | None = None,
    ) -> ProcessResult:
        """Start `argv` and wait until it exits or `yield_ms` passes, whichever comes first.

        A command still running after `yield_ms` is registered under a short id ("p1") and keeps
        running (and its output keeps being captured) until it exits, `timeout_ms` (its total
        lifetime; None for no limit) passes, or it is killed. Cancelling this call kills the
        process group: an interrupted turn leaves nothing behind. `output_file` receives all the
        output once there is more than `spill_after` bytes of it.
        """
        if self._closed:
            raise ProcessError("the session's process manager is closed")
        if not argv:
            raise ProcessStartError("empty command")
        if len(self._live) >= self.max_processes:
            raise ProcessError(self._too_many())
        cap = self.limits.max_output_file_bytes if self.limits else MAX_FILE_BYTES
        spill = OutputFile(output_file, self.spill_after, cap)
        p = await self._spawn(list(argv), cwd, env, timeout_ms, keep_stdin_open, spill)
        p.on_chunk = on_chunk
        try:
            await self._wait(p, yield_ms)
        except asyncio.CancelledError:
            await asyncio.shield(self._terminate(p))
            self._forget(p)
            raise
        finally:
            # Output arriving while nobody waits is kept for the next poll, not shown under
            # this call's id.
            p.on_chunk = None
        if not p.done.is_set() and p.id is None:
            p.id = f"p{next(self._ids)}"
            self._by_id[p.id] = p
        return self._collect(p)

    async def poll(
        self,
        process_id: str,
        yield_ms: int = 10_000,
        stdin: str | None = None,
        on_chunk: ChunkCallback | None = None,
    ) -> ProcessResult:
        """Write `stdin` (if given), then wait up to `yield_ms` for the process to exit.

        Returns only the output produced since the previous run/poll. Once a result reports the
        exit, the id is forgotten.
        """
        p = self._get(process_id)
        async with p.lock:
            # The callback goes in first: the reply to stdin can arrive while the write drains.
            p.on_chunk = on_chunk
            try:
                if stdin is not None:
                    await self._write_stdin(p, stdin, yield_ms)
                await self._wait(p, yield_ms)
            finally:
                p.on_chunk = None
            return self._collect(p)

    async def kill(self, process_id: str) -> ProcessResult:
        """Stop a background process (SIGTERM, grace, SIGKILL to its whole group)."""
        p = self._get(process_id)
        async with p.lock:
            if not p.done.is_set():
                p.killed = True
                await self._terminate(p)
            await p.done.wait()
            return self._collect(p)

    async def close(self) -> None:
        """Kill every process group this manager started; called when the session ends."""
        self._closed = True
        procs = list(self._live)
        for p in procs:
            if not p.done.is_set():
                p.killed = True
        await asyncio.gather(*(self._terminate(p) for p in procs), return_exceptions=True)
        for left in self._lingering:
            if group_alive(left.pgid):
                await self._stop_group(left.pgid, None)
            if left.scope is not None:
                await left.scope.close()
        self._lingering.clear()
        for p in procs:
            self._forget(p)

    # -- internals --------------------------------------------------------------------------

    async def _spawn(
        self,
        argv: list[str],
        cwd: Path | str,
        env: Mapping[str, str] | None,
        timeout_ms: int | None,
        keep_stdin_open: bool,
        spill: OutputFile,
    ) -> _Proc:
        loop = asyncio.get_running_loop()
        # One pipe for stdout and stderr, read through our own protocol so the read end can be
        # closed when descendants hold it open after the command exited.
        read_fd, write_fd = os.pipe()
        # Timed from before the spawn: starting a process is part of what the command costs.
        started = time.monotonic()
        scope = (
            Scope.make(self.limits.max_processes, max_memory=self.limits.max_memory)
            if self.limits
            else None
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd),
                env=dict(env) if env is not None else None,
                stdin=asyncio.subprocess.PIPE if keep_stdin_open else asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                preexec_fn=preexec(self.limits, scope),
            )
        except BaseException as exc:
            # Failed, or cancelled while starting: asyncio then kills the process it made, but
            # not what a sandbox forked from it in a new session (bubblewrap's PID 1); the
            # scope holds both.
            os.close(read_fd)
            if scope is not None:
                await asyncio.shield(scope.close())
            if isinstance(exc, (OSError, ValueError)):  # ValueError: a NUL byte in an argument
                raise ProcessStartError(start_error(argv, cwd, exc)) from exc
            raise
        finally:
            os.close(write_fd)
        p = _Proc(
            proc=proc,
            started=started,
            timeout_ms=timeout_ms,
            buffer=OutputBuffer(self.max_buffer_bytes),
            stdin_open=keep_stdin_open,
            spill=spill,
            scope=scope,
        )
        reader = os.fdopen(read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: _PipeProtocol(p), reader)
        p.transport = transport
        self._live.add(p)
        p.supervisor = asyncio.create_task(self._supervise(p), name=f"lever-proc-{proc.pid}")
        return p

    async def _supervise(self, p: _Proc) -> None:
        """Enforce the timeout, record the exit, and settle the pipe."""
        try:
            timeout = None if p.timeout_ms is None else p.timeout_ms / 1000
            try:
                await asyncio.wait_for(p.proc.wait(), timeout)
            except TimeoutError:
                p.timed_out = True
                await self._terminate(p)
            p.exit_code = p.proc.returncode
            p.ended = time.monotonic()
            try:
                await asyncio.wait_for(p.eof.wait(), self.drain_s)
            except TimeoutError:
                # Descendants still hold the pipe: stop reading so the result is reported now.
                if p.transport is not None:
                    p.transport.close()
            if p.proc.stdin is not None:
                p.proc.stdin.close()
            await self._after_exit(p)
        finally:
            p.done.set()

    async def _after_exit(self, p: _Proc) -> None:
        """Keep what the command left running (it dies with the session), or remove its scope."""
        scope = p.scope
        if scope is not None:
            p.limit_hits = scope.process_limit_hits()
            p.memory_hits = scope.memory_limit_hits()
        left = Lingering(p.pgid, scope)
        if left.alive():
            self._lingering.append(left)
        elif scope is not None:
            await scope.close()

    def _settle_lingering(self) -> None:
        """Forget lingering commands whose processes all ended, removing their scopes."""
        for left in list(self._lingering):
            if not left.alive() and (left.scope is None or left.scope.remove()):
                self._lingering.remove(left)

    async def _terminate(self, p: _Proc) -> None:
        if p.proc.returncode is None or group_alive(p.pgid):
            await self._stop_group(p.pgid, p.proc)
        if p.scope is not None:
            # What left the process group (setsid, a double fork) is still in the scope.
            await p.scope.kill()
        if p.supervisor is not None and asyncio.current_task() is not p.supervisor:
            await p.done.wait()

    async def _stop_group(self, pgid: int, leader: asyncio.subprocess.Process | None) -> None:
        """SIGTERM the whole group, give it a short grace, then SIGKILL whatever is left."""
        signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace_s
        while time.monotonic() < deadline:
            if (leader is None or leader.returncode is not None) and not group_alive(pgid):
                return
            await asyncio.sleep(0.02)
        signal_group(pgid, signal.SIGKILL)
        if leader is not None:
            with contextlib.suppress(ProcessLookupError):
                await leader.wait()
        # SIGKILL is delivered asynchronously; report the group dead only once it is (bounded,
        # since without /proc a zombie member looks alive forever).
        deadline = time.monotonic() + 1.0
        while group_alive(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _wait(self, p: _Proc, yield_ms: int) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(p.done.wait(), max(yield_ms, 0) / 1000)

    async def _write_stdin(self, p: _Proc, text: str, yield_ms: int) -> None:
        stream = p.proc.stdin
        if not p.stdin_open or stream is None:
            raise ProcessError(
                f"process {p.id} was not started with keep_stdin_open, so its stdin is closed"
            )
        if p.done.is_set() or stream.is_closing():
            raise ProcessError(f"process {p.id} has exited; its stdin is closed")
        try:
            stream.write(text.encode())
            # A process that does not read fills the pipe; never wait longer than the poll.
            await asyncio.wait_for(stream.drain(), max(yield_ms, 100) / 1000)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ProcessError(f"process {p.id} closed its stdin") from exc
        except TimeoutError:
            log.debug("stdin of %s not drained yet", p.id)

    def _collect(self, p: _Proc) -> ProcessResult:
        output, dropped = p.buffer.take()
        finished = p.done.is_set()
        result = ProcessResult(
            output=output,
            exit_code=p.exit_code if finished else None,
            running=not finished,
            duration_ms=p.duration_ms(),
            process_id=p.id,
            timed_out=p.timed_out,
            killed=p.killed,
            timeout_ms=p.timeout_ms,
            pid=p.proc.pid,
            dropped_bytes=dropped,
            stdin_open=p.stdin_open and not finished,
            output_file=p.spill.spilled,
        )
        if finished and self.limits is not None:
            result.limit_note = self.limits.note(
                p.exit_code,
                output,
                process_limit_hit=p.limit_hits > 0,
                memory_limit_hit=p.memory_hits > 0,
            )
        if finished:
            self._forget(p)
        return result

    def _too_many(self) -> str:
        waiting = ", ".join(self._by_id) or "none"
        return (
            f"{len(self._live)} processes are already running or waiting to be read (at most "
            f"{self.max_processes}): poll the finished ones, or stop one with "
            f'{{"process_id": ..., "kill": true}} (background processes: {waiting})'
        )

    def _forget(self, p: _Proc) -> None:
        self._live.discard(p)
        p.spill.close()
        if p.id is not None:
            self._by_id.pop(p.id, None)
        if p.transport is not None:
            p.transport.close()

    def _get(self, process_id: str) -> _Proc:
        p = self._by_id.get(process_id)
        if p is None:
            running = ", ".join(self._by_id) or "none"
            raise ProcessError(f"no running process {process_id!r} (running: {running})")
        return p
