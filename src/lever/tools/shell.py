"""The `shell` tool: run a command through the sandbox, or poll / feed / kill a running one.

The model sees a header line (exit code and duration, or how to poll a still-running process)
and the output truncated head + tail; the whole output goes to `ToolResult.full_output` (the
rollout keeps it) and, when truncated, to a file under the session's artifacts folder that the
marker names, so the model can read it back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lever.protocol.events import ToolOutputChunk
from lever.protocol.tools import ToolSchema
from lever.sandbox.approval import is_confining
from lever.sandbox.base import NoSandbox
from lever.sandbox.bwrap import setup_raced
from lever.sandbox.denial import sandbox_denial
from lever.sandbox.fs_beneath import OpenedDir, UnsafePath, open_folder
from lever.sandbox.paths import PathOutsideRoots
from lever.sandbox.protect import after_command, before_command, check_now
from lever.tools.base import ToolContext, ToolResult
from lever.tools.processes import ChunkCallback, ProcessError, ProcessManager, ProcessResult
from lever.tools.shell_args import (
    DESCRIPTION,
    PARAMETERS,
    SMALL_DESCRIPTION,
    SMALL_PARAMETERS,
    ShellArgs,
    check_combination,
    validation_message,
)
from lever.tools.shell_snapshot import Launch, ShellSnapshot, prepare
from lever.tools.truncate import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINES,
    decode_output,
    truncate_output,
)

DEFAULT_TIMEOUT_MS = 120_000
DEFAULT_YIELD_MS = 10_000
#: A new command always gets this long before it is moved to the background: small models copy
#: `"yield_ms": 0` from the schema, and then even `rm -f x` came back "still running as p1".
MIN_START_YIELD_MS = 1_000
#: Bounds on what the model may ask for: a command lives at most an hour (and never past the
#: run's time limit); a call waits at most five minutes before returning.
MAX_TIMEOUT_MS = 3_600_000
MAX_YIELD_MS = 300_000
#: What the rollout keeps of one output (head and tail; the whole is in the output file).
ROLLOUT_MAX_BYTES = 64_000
ROLLOUT_MAX_LINES = 2_000
_KILL_MARGIN_MS = 2_000
#: Exit code reported for a command killed by its timeout (as GNU `timeout` does).
TIMEOUT_EXIT_CODE = 124


class ShellTool:
    """Runs commands through `ctx.sandbox` using the session's `ProcessManager`.

    With a `snapshot`, string commands run as `bash -c` in the login shell's environment taken
    once (lever.tools.shell_snapshot); without one, as `bash -lc`.
    """

    def __init__(
        self,
        processes: ProcessManager,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_lines: int = DEFAULT_MAX_LINES,
        snapshot: ShellSnapshot | None = None,
    ) -> None:
        self.processes = processes
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self.snapshot = snapshot
        #: Lines a bare `bash -lc true` prints in the sandbox (start-up noise), once known.
        self._noise: frozenset[str] | None = None
        self.schema = ToolSchema(name="shell", description=DESCRIPTION, parameters=PARAMETERS)
        self._last_ctx: ToolContext | None = None

    def offer_small(self) -> None:
        """Show the model only `command`, `workdir`, `timeout_ms` and escalation (small local
        models fill in every parameter they see: `stdin`, `kill`, `yield_ms` and `process_id`
        made them start, background and kill commands they never meant to). What they send is
        still read with the full arguments."""
        self.schema = ToolSchema(
            name="shell", description=SMALL_DESCRIPTION, parameters=SMALL_PARAMETERS
        )

    async def aclose(self) -> None:
        """Kill every process still running: they die with the session."""
        try:
            if self.snapshot is not None:
                # It may wait for a slow login to finish (up to 2 s): in a thread, so the other
                # sessions of an app-server go on meanwhile.
                await asyncio.to_thread(self.snapshot.close)
        finally:
            # Even when the close is cancelled during that wait: no command outlives it.
            await self.processes.close()
        if self._last_ctx is not None:  # what background commands did to .git / .lever
            check_now(self._last_ctx.sandbox, self._last_ctx.emit)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            parsed = ShellArgs.model_validate(args)
        except ValidationError as exc:
            return _error(validation_message(exc))
        problem = check_combination(parsed)
        if problem:
            return _error(problem)
        on_chunk = _chunk_emitter(ctx)
        self._last_ctx = ctx
        try:
            if parsed.process_id is not None:
                return await self._existing(parsed, parsed.process_id, ctx, on_chunk)
            return await self._start(parsed, ctx, on_chunk)
        except ProcessError as exc:
            return _error(str(exc))

    async def _start(
        self, args: ShellArgs, ctx: ToolContext, on_chunk: ChunkCallback
    ) -> ToolResult:
        assert args.command is not None  # checked by check_combination
        workdir = _resolve_workdir(args.workdir, ctx)
        if isinstance(workdir, str):
            return _error(workdir)
        with workdir:  # held open until the command (and a rerun) has started in it
            return await self._start_in(workdir, args, ctx, on_chunk)

    async def _start_in(
        self, workdir: OpenedDir, args: ShellArgs, ctx: ToolContext, on_chunk: ChunkCallback
    ) -> ToolResult:
        assert args.command is not None
        launch = await prepare(args.command, self.snapshot, ctx)
        argv = launch.argv
        outside = False
        if ctx.approvals is not None:
            verdict = await ctx.approvals.check_command(
                call_id=ctx.call_id,
                command=args.command,
                argv=argv,
                cwd=workdir.path,
                sandbox=ctx.sandbox,
                emit=ctx.emit,
                escalate=bool(args.escalate),
                justification=args.justification or "",
            )
            if not verdict.allowed:
                return _error(verdict.message)  # a denied command never runs
            outside = verdict.outside
            if verdict.argv:  # a known-safe git command runs neutralised
                launch = dataclasses.replace(launch, argv=list(verdict.argv), login=False)
        result = await self._spawn(launch, workdir, args, ctx, on_chunk, outside=outside)
        if outside or ctx.approvals is None or not is_confining(ctx.sandbox):
            return self._result(result, ctx, polled=False)
        return await self._after_sandbox(args, launch, workdir, ctx, on_chunk, result)

    async def _spawn(
        self,
        launch: Launch,
        workdir: OpenedDir,
        args: ShellArgs,
        ctx: ToolContext,
        on_chunk: ChunkCallback,
        *,
        outside: bool,
    ) -> ProcessResult:
        sandbox = NoSandbox(ctx.sandbox.policy) if outside else ctx.sandbox
        # .git / .lever checked and restored around the command where the sandbox cannot.
        background = self.processes.busy()
        note = before_command(
            ctx.sandbox, workdir.path, ctx.emit, background=background, outside=outside
        )
        timeout_ms = _timeout(args, ctx)
        for attempt in range(2):
            result = await self.processes.run(
                # The sandbox's writable roots come from the workspace, never from the workdir:
                # a workdir swapped for a symlink must not make the folder it points to writable.
                sandbox.wrap(launch.argv, ctx.cwd, launch.env),
                cwd=workdir.spawn_cwd,
                env=launch.env,
                timeout_ms=timeout_ms,
                yield_ms=max(_yield(args, timeout_ms), min(MIN_START_YIELD_MS, timeout_ms)),
                keep_stdin_open=bool(args.keep_stdin_open),
                on_chunk=on_chunk,
                output_file=_artifact_path(ctx),
            )
            # bubblewrap that never started the command (a mount path vanished) runs it again.
            if (
                attempt
                or sandbox.name != "bwrap"
                or not setup_raced(result.exit_code, result.output)
            ):
                break
        note += after_command(ctx.sandbox, workdir.path, ctx.emit, outside=outside)
        result.output += note.encode()
        return result

    async def _after_sandbox(
        self,
        args: ShellArgs,
        launch: Launch,
        workdir: OpenedDir,
        ctx: ToolContext,
        on_chunk: ChunkCallback,
        first: ProcessResult,
    ) -> ToolResult:
        """A command that ran in the sandbox: if the sandbox refused it, `on-failure` asks to
        rerun it outside; other policies tell the model what it may do."""
        assert ctx.approvals is not None and args.command is not None
        failure = await self._denial(first, launch, workdir, ctx)
        if failure is None:
            return self._result(first, ctx, polled=False)
        if not ctx.approvals.wants_rerun_prompt(ctx.sandbox):
            return self._result(first, ctx, polled=False, note=ctx.approvals.denial_hint(failure))
        verdict = await ctx.approvals.check_rerun(
            call_id=ctx.call_id,
            command=args.command,
            argv=launch.argv,
            cwd=workdir.path,
            failure=failure,
            emit=ctx.emit,
        )
        if not verdict.allowed:
            return self._result(first, ctx, polled=False, note=f"[lever: {verdict.message}]")
        second = await self._spawn(launch, workdir, args, ctx, on_chunk, outside=True)
        note = (
            f"[lever: it failed in the sandbox ({failure}); the person approved running it "
            "again outside the sandbox, and this is that run]"
        )
        return self._result(second, ctx, polled=False, note=note)

    async def _denial(
        self, result: ProcessResult, launch: Launch, workdir: OpenedDir, ctx: ToolContext
    ) -> str | None:
        """The line showing the sandbox refused the command itself, or None. Under `bash -lc`
        the login scripts print their own refusals: lines a bare `bash -lc true` prints in the
        sandbox are start-up noise, not the command's failure."""
        if result.running or result.timed_out or result.killed:
            return None
        output = decode_output(result.output)
        failure = sandbox_denial(result.exit_code, output)
        if failure is None or not launch.login:
            return failure
        if self._noise is None:
            probe = Launch(["bash", "-lc", "true"], launch.env, login=True)
            quiet = ShellArgs(timeout_ms=DEFAULT_YIELD_MS, yield_ms=DEFAULT_YIELD_MS + 1000)
            noise = await self._spawn(probe, workdir, quiet, ctx, lambda _: None, outside=False)
            self._noise = frozenset(decode_output(noise.output).splitlines())
        return sandbox_denial(result.exit_code, output, ignore=self._noise)

    async def _existing(
        self, args: ShellArgs, process_id: str, ctx: ToolContext, on_chunk: ChunkCallback
    ) -> ToolResult:
        if args.kill:
            result = await self.processes.kill(process_id)
        else:
            result = await self.processes.poll(
                process_id, yield_ms=_yield(args), stdin=args.stdin, on_chunk=on_chunk
            )
        result.output += check_now(ctx.sandbox, ctx.emit).encode()
        return self._result(result, ctx, polled=True)

    def _result(
        self, result: ProcessResult, ctx: ToolContext, *, polled: bool, note: str = ""
    ) -> ToolResult:
        header = _header(result, polled=polled)
        if note:
            header += f"\n{note}"
        body = decode_output(result.output)
        # A long output is already in its file (written as it came); a shorter one that the
        # model cannot see whole is written now.
        path = result.output_file or _artifact_path(ctx)
        shown, truncated = truncate_output(
            body, self.max_bytes, self.max_lines, full_output_path=str(path) if path else None
        )
        unwritten = truncated and result.output_file is None and path is not None
        if unwritten and path is not None and not _write_artifact(path, result.output):
            path = None
            shown, truncated = truncate_output(body, self.max_bytes, self.max_lines)
        kept, _ = truncate_output(
            body, ROLLOUT_MAX_BYTES, ROLLOUT_MAX_LINES, full_output_path=str(path) if path else None
        )
        if not body:
            shown = "(no new output)" if polled else "(no output)"
        exit_code = TIMEOUT_EXIT_CODE if result.timed_out else result.exit_code
        return ToolResult(
            output=f"{header}\n{shown}",
            exit_code=exit_code,
            full_output=f"{header}\n{kept}",
            truncated=truncated,
            duration_ms=result.duration_ms,
            process_id=result.process_id if result.running else None,
        )


def _error(message: str) -> ToolResult:
    return ToolResult(output=message, is_error=True)


def _yield(args: ShellArgs, timeout_ms: int | None = None) -> int:
    wanted = min(DEFAULT_YIELD_MS if args.yield_ms is None else args.yield_ms, MAX_YIELD_MS)
    if timeout_ms is not None and wanted >= timeout_ms:
        # Waiting as long as the command may live means waiting for its end, the kill included.
        return timeout_ms + _KILL_MARGIN_MS
    return wanted


def _timeout(args: ShellArgs, ctx: ToolContext) -> int:
    """The command's lifetime: as asked, but at most an hour and never past the run's end."""
    return min(args.timeout_ms or DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, _left_ms(ctx))


def _left_ms(ctx: ToolContext) -> int:
    """Milliseconds until the run's time limit (a second at least, so a command can start)."""
    if ctx.deadline is None:
        return MAX_TIMEOUT_MS
    return max(int((ctx.deadline - time.monotonic()) * 1000), 1000)


def _names_the_workspace(workdir: str, cwd: Path) -> bool:
    """Small models name the workspace by its folder name ("repo" for /x/repo) or by its path
    without the leading slash ("x/repo"); where no such folder exists inside it, they mean it."""
    wanted = workdir.strip("/")
    if not wanted or (cwd / workdir).exists():
        return False
    return f"{str(cwd).rstrip('/')}/".endswith(f"/{wanted}/")


def _resolve_workdir(workdir: str | None, ctx: ToolContext) -> OpenedDir | str:
    """The directory to run in, held open (`lever.sandbox.fs_beneath`), or an error message.

    The command starts in that very folder through its fd, so a background command swapping it
    for a symlink between this check and the start cannot move the command elsewhere."""
    roots = (ctx.cwd, *ctx.writable_roots)
    if workdir and _names_the_workspace(workdir, ctx.cwd):
        workdir = "."
    try:
        return open_folder(workdir or ".", ctx.cwd, roots)
    except PathOutsideRoots:
        listed = ", ".join(str(root) for root in roots)
        return f"`workdir` {workdir} is outside the workspace ({listed})"
    except FileNotFoundError:
        return f"`workdir` {workdir or '.'} does not exist"
    except NotADirectoryError:
        return f"`workdir` {workdir or '.'} is not a directory"
    except (UnsafePath, OSError) as exc:
        return f"`workdir` {workdir or '.'}: {exc}"


def _chunk_emitter(ctx: ToolContext) -> ChunkCallback:
    def emit(text: str) -> None:
        ctx.emit(ToolOutputChunk(call_id=ctx.call_id, chunk=text))

    return emit


def _header(result: ProcessResult, *, polled: bool) -> str:
    took = _seconds(result.duration_ms)
    prefix = f"process {result.process_id} · " if polled and result.process_id else ""
    if result.running:
        pid = result.process_id
        how = f'poll with {{"process_id": "{pid}"}}'
        if result.stdin_open:
            how += ', write to it with "stdin"'
        return f'still running as process {pid} · {took} so far · {how}, stop it with "kill": true'
    if result.timed_out:
        return (
            f"{prefix}timed out after {result.timeout_ms:,} ms · process group killed · "
            f"exit code: {TIMEOUT_EXIT_CODE} · {took}"
        )
    code = result.exit_code
    text = f"exit code: {code}"
    if code is not None and code < 0:
        try:
            text += f" (killed by {signal.Signals(-code).name})"
        except ValueError:
            text += f" (killed by signal {-code})"
    if result.killed:
        prefix += "killed · "
    note = f"\n{result.limit_note}" if result.limit_note else ""
    return f"{prefix}{text} · {took}{note}"


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _artifact_path(ctx: ToolContext) -> Path | None:
    if ctx.artifacts_dir is None:
        return None
    name = _UNSAFE.sub("_", ctx.call_id).lstrip(".") or f"shell-{uuid.uuid4().hex[:12]}"
    return ctx.artifacts_dir / f"{name[:120]}.txt"


def _write_artifact(path: Path, data: bytes) -> bool:
    """Write the full raw output; False (and no marker path) when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError:
        return False
    return True
