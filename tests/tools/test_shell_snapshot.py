"""The login shell's environment taken once (lever.tools.shell_snapshot), with a realistic HOME:
a slow, noisy pyenv-style `.bashrc` (tests/conftest.py), real bash, the real sandbox."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lever.config.providers import ConfigError
from lever.protocol.events import ErrorEvent
from lever.sandbox.approval import Approvals
from lever.sandbox.base import SandboxPolicy
from lever.sandbox.env import command_env
from lever.testing import realistic_home as fixture
from lever.testing.procs import alive_with
from lever.testing.realistic_home import RealisticHome, build_realistic_home
from lever.tools.base import ToolContext
from lever.tools.processes import ProcessManager
from lever.tools.registry import default_tools
from lever.tools.shell import ShellTool
from lever.tools.shell_snapshot import FILE_NAME, ShellSnapshot, snapshot_from_config

HEADER = re.compile(r"exit code: (\d+) · \d+\.\d s\n")


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    m = ProcessManager(kill_grace_s=0.3)
    yield m
    await m.close()


@pytest.fixture
def events() -> list[BaseModel]:
    return []


def make_ctx(tmp_path: Path, home: RealisticHome, events: list[BaseModel]) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    (workspace / "file.txt").write_text("hello\n")
    return ToolContext(
        cwd=workspace,
        call_id="call_1",
        # As a session makes it: secrets dropped, PAGER and TERM pinned.
        env=command_env({**os.environ, "HOME": str(home.home)}),
        emit=events.append,
        artifacts_dir=tmp_path / "session",
    )


def body(result: Any) -> str:
    """The output after the header line, checking the header's shape."""
    match = HEADER.match(result.output)
    assert match, result.output
    return str(result.output[match.end() :])


def notices(events: list[BaseModel]) -> list[ErrorEvent]:
    return [e for e in events if isinstance(e, ErrorEvent) and e.kind == "shell_snapshot"]


async def test_the_bashrc_environment_reaches_commands_and_runs_once(
    tmp_path: Path, realistic_home: RealisticHome, manager: ProcessManager, events: list[BaseModel]
) -> None:
    ctx = make_ctx(tmp_path, realistic_home, events)
    tool = ShellTool(manager, snapshot=ShellSnapshot())
    try:
        alias = await tool.run({"command": f"{fixture.ALIAS_NAME} && echo done"}, ctx)
        function = await tool.run({"command": f"{fixture.FUNCTION_NAME} a b"}, ctx)
        shim = await tool.run({"command": fixture.SHIM_PROGRAM}, ctx)
        argv_shim = await tool.run({"command": [fixture.SHIM_PROGRAM]}, ctx)
        variables = await tool.run(
            {"command": f'echo "${fixture.PLAIN_NAME}|${fixture.SECRET_NAME}|$PAGER|$BASH_ENV"'},
            ctx,
        )
        started = time.monotonic()
        rm = await tool.run({"command": "rm file.txt && echo removed"}, ctx)
        took = time.monotonic() - started
    finally:
        await tool.aclose()
    assert body(alias) == "alias ok\ndone\n"
    assert body(function) == "function ok: a b\n"
    assert body(shim) == body(argv_shim) == f"{fixture.SHIM_OUTPUT}\n"
    # The .bashrc's plain variable is carried; its token is not (lever's secret filter), nor
    # does it override lever's PAGER; BASH_ENV is not left for the command's children.
    assert body(variables) == f"{fixture.PLAIN_VALUE}||cat|\n"
    # `alias rm='rm -i'` is left out: with stdin at /dev/null it would refuse every removal.
    assert body(rm) == "removed\n" and not (ctx.cwd / "file.txt").exists()
    # Start-up ran once for the whole session; later commands do not pay its 0.6 s.
    assert realistic_home.runs() == 1
    assert took < 0.5
    assert not notices(events)
    assert (tmp_path / "session" / FILE_NAME).is_file()


async def test_a_hanging_login_falls_back_to_bash_lc_with_one_notice(
    tmp_path: Path, manager: ProcessManager, events: list[BaseModel]
) -> None:
    home = build_realistic_home(tmp_path / "home", delay_s=0.05, hang_once=True)
    ctx = make_ctx(tmp_path, home, events)
    tool = ShellTool(manager, snapshot=ShellSnapshot(timeout_s=0.5))
    try:
        started = time.monotonic()
        first = await tool.run({"command": "echo one"}, ctx)
        took = time.monotonic() - started
        second = await tool.run({"command": f"{fixture.SHIM_PROGRAM}; echo two"}, ctx)
    finally:
        await tool.aclose()
    assert took < 5  # the snapshot's own limit, not the .bashrc's 60 s sleep
    assert first.exit_code == 0 and first.output.endswith("one\n")
    # `bash -lc` runs the (no longer stalling) login scripts with each command: PATH works.
    assert second.exit_code == 0 and second.output.endswith(f"{fixture.SHIM_OUTPUT}\ntwo\n")
    assert home.runs() == 3  # the stalled snapshot, then once per command
    # Stopped with SIGTERM first, so its EXIT trap removed the lock (SIGKILL would leave it,
    # and every later login would wait for it).
    assert not (home.shims / ".pyenv-shim").exists()
    (notice,) = notices(events)
    assert "longer than 0.5 s" in notice.message and "bash -lc" in notice.message


async def test_closing_while_the_login_runs_does_not_stall_the_loop(
    tmp_path: Path, manager: ProcessManager
) -> None:
    """A session closed before its slow login finished waits for it (bounded, so pyenv's lock
    is not left behind) without holding up the event loop the app-server's other sessions
    share."""
    home = build_realistic_home(tmp_path / "home", delay_s=1.0)
    snapshot = ShellSnapshot()
    tool = ShellTool(manager, snapshot=snapshot)
    env = command_env({**os.environ, "HOME": str(home.home)})
    snapshot.start(env, tmp_path, None)
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    await tool.aclose()
    took = time.monotonic() - started
    ticker.cancel()
    assert took > 0.3, "the close did not wait for the login"
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) > 5 and max(gaps) < 0.25, max(gaps)
    assert not (home.shims / ".pyenv-shim").exists()


async def test_a_close_cancelled_during_that_wait_still_kills_the_commands(
    tmp_path: Path, manager: ProcessManager
) -> None:
    home = build_realistic_home(tmp_path / "home", delay_s=1.0)
    snapshot = ShellSnapshot()
    tool = ShellTool(manager, snapshot=snapshot)
    env = command_env({**os.environ, "HOME": str(home.home)})
    marker = f"41.{os.getpid() % 1000}"
    background = await manager.run(["sleep", marker], tmp_path, env, yield_ms=50)
    assert background.running
    snapshot.start(env, tmp_path, None)
    closing = asyncio.create_task(tool.aclose())
    await asyncio.sleep(0.2)  # inside the wait for the login
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert alive_with(marker) == []


async def test_a_login_shell_that_exits_early_falls_back(
    tmp_path: Path, manager: ProcessManager, events: list[BaseModel]
) -> None:
    home = build_realistic_home(tmp_path / "home", delay_s=0)
    (home.home / ".bash_profile").write_text("exit 0\n")
    ctx = make_ctx(tmp_path, home, events)
    tool = ShellTool(manager, snapshot=ShellSnapshot())
    try:
        result = await tool.run({"command": "echo fine"}, ctx)
    finally:
        await tool.aclose()
    # As before the snapshot existed: `bash -lc` runs the profile, which ends the shell.
    assert result.exit_code == 0 and result.output.endswith("(no output)")
    (notice,) = notices(events)
    assert "ended before printing its environment" in notice.message


def test_config_switch() -> None:
    assert isinstance(snapshot_from_config({}, command_env), ShellSnapshot)
    assert snapshot_from_config({"shell_snapshot": False}, command_env) is None
    with pytest.raises(ConfigError, match="`shell_snapshot` must be true or false"):
        snapshot_from_config({"shell_snapshot": "no"}, command_env)


async def test_switched_off_string_commands_run_as_bash_lc(
    tmp_path: Path, realistic_home: RealisticHome, events: list[BaseModel]
) -> None:
    router = default_tools(shell_snapshot=False)
    tool = next(t for t in router.tools.values() if isinstance(t, ShellTool))
    ctx = make_ctx(tmp_path, realistic_home, events)
    try:
        result = await tool.run({"command": "echo $0 $-"}, ctx)
    finally:
        await tool.aclose()
    assert tool.snapshot is None
    # The login scripts ran with the command (their noise is in its output) and no notice.
    assert ".cargo/env" in result.output and realistic_home.runs() == 1
    assert not notices(events)


def confining_sandbox(workspace: Path) -> Any:
    from lever.sandbox.factory import make_sandbox
    from lever.sandbox.probe import probe

    status = probe()
    if not status.available:
        pytest.skip(f"no sandbox mechanism on this machine: {status.describe()}")
    return make_sandbox(SandboxPolicy(mode="workspace-write", writable_roots=(workspace,)))


async def test_in_the_sandbox_the_output_is_the_commands_own(
    tmp_path: Path, realistic_home: RealisticHome, manager: ProcessManager, events: list[BaseModel]
) -> None:
    ctx = make_ctx(tmp_path, realistic_home, events)
    ctx.sandbox = confining_sandbox(ctx.cwd)
    ctx.approvals = Approvals("never")
    tool = ShellTool(manager, snapshot=ShellSnapshot())
    try:
        printed = await tool.run({"command": "printf 'one\\ntwo\\n'"}, ctx)
        failed = await tool.run({"command": "ls no-such-file"}, ctx)
        tmp = await tool.run({"command": 'echo "$TMPDIR"; touch "$TMPDIR/x" && echo ok'}, ctx)
        refused = await tool.run({"command": 'touch "$HOME/outside"'}, ctx)
    finally:
        await tool.aclose()
    assert body(printed) == "one\ntwo\n" and printed.output.count("\n") == 3
    # The command's own failure: its own message, no start-up noise, no sandbox hint.
    assert body(failed).count("\n") == 1 and "no-such-file" in body(failed)
    assert "sandbox" not in failed.output
    # The sandbox's private TMPDIR wins over the .bashrc's.
    assert str(realistic_home.home) not in body(tmp) and body(tmp).endswith("ok\n")
    # A real refusal still gets the hint.
    assert refused.exit_code != 0 and "sandbox refusing" in refused.output
    assert realistic_home.runs() == 1


async def test_under_bash_lc_start_up_noise_is_not_blamed_on_the_sandbox(
    tmp_path: Path, realistic_home: RealisticHome, manager: ProcessManager, events: list[BaseModel]
) -> None:
    """Without the snapshot the login scripts' refusals are in the output; the hint must only
    fire for the command's own."""
    ctx = make_ctx(tmp_path, realistic_home, events)
    ctx.sandbox = confining_sandbox(ctx.cwd)
    ctx.approvals = Approvals("never")
    tool = ShellTool(manager)
    try:
        failed = await tool.run({"command": "ls no-such-file"}, ctx)
        refused = await tool.run({"command": 'touch "$HOME/outside"'}, ctx)
    finally:
        await tool.aclose()
    assert "shims" in failed.output  # the noise is there (mktemp / pyenv)...
    assert "sandbox refusing" not in failed.output  # ...and not read as a denial
    assert "sandbox refusing" in refused.output and "outside" in refused.output.splitlines()[1]
