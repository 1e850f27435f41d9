"""Bounds on what the model chooses (issue 13, item 9): how long a command may live and a call
may wait, how many processes are kept, how much output is kept in memory and in the rollout."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lever.tools import shell as shell_module
from lever.tools.base import ToolContext
from lever.tools.process_output import MAX_BUFFER_BYTES
from lever.tools.processes import MAX_PROCESSES, ProcessError, ProcessManager
from lever.tools.shell import MAX_TIMEOUT_MS, ShellTool

PY = sys.executable


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    m = ProcessManager(kill_grace_s=0.2)
    yield m
    await m.close()


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(
        cwd=workspace,
        call_id="call_1",
        env={**os.environ, "HOME": str(tmp_path)},
        artifacts_dir=tmp_path / "session",
    )


async def run(tool: ShellTool, ctx: ToolContext, **args: Any) -> Any:
    return await tool.run(args, ctx)


async def test_timeout_is_at_most_an_hour(manager: ProcessManager, ctx: ToolContext) -> None:
    tool = ShellTool(manager)
    started = await run(tool, ctx, command=["sleep", "30"], timeout_ms=10**12, yield_ms=0)
    assert started.process_id == "p1"
    polled = await manager.poll("p1", yield_ms=0)
    assert polled.timeout_ms == MAX_TIMEOUT_MS


async def test_timeout_never_passes_the_runs_time_limit(
    manager: ProcessManager, ctx: ToolContext
) -> None:
    ctx.deadline = time.monotonic() + 1.5
    tool = ShellTool(manager)
    began = time.monotonic()
    result = await run(tool, ctx, command=["sleep", "30"], timeout_ms=600_000)
    took = time.monotonic() - began
    assert result.exit_code == 124 and "timed out after 1," in result.output
    assert took < 5
    # Past the limit a command still gets a second, not zero or a negative lifetime.
    ctx.deadline = time.monotonic() - 10
    late = await run(tool, ctx, command=["sleep", "30"])
    assert late.exit_code == 124 and "timed out after 1,000 ms" in late.output


async def test_yield_is_bounded(
    manager: ProcessManager, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell_module, "MAX_YIELD_MS", 300)
    tool = ShellTool(manager)
    began = time.monotonic()
    result = await run(tool, ctx, command=["sleep", "30"], yield_ms=10**9)
    assert result.process_id == "p1" and time.monotonic() - began < 5
    began = time.monotonic()
    polled = await run(tool, ctx, process_id="p1", yield_ms=10**9)
    assert "still running" in polled.output and time.monotonic() - began < 5


async def test_the_65th_process_is_refused(manager: ProcessManager, ctx: ToolContext) -> None:
    tool = ShellTool(manager)
    starts = [
        manager.run(["sleep", "60"], cwd=ctx.cwd, yield_ms=0) for _ in range(MAX_PROCESSES - 1)
    ]
    await asyncio.gather(*starts)
    last = await run(tool, ctx, command=["sleep", "60"], yield_ms=0)
    assert last.process_id == f"p{MAX_PROCESSES}" and not last.is_error
    refused = await run(tool, ctx, command=["echo", "one more"])
    assert refused.is_error
    assert "64 processes are already running or waiting to be read (at most 64)" in refused.output
    assert '"kill": true' in refused.output
    with pytest.raises(ProcessError):
        await manager.run(["true"], cwd=ctx.cwd)
    # Stopping one makes room again.
    await run(tool, ctx, process_id="p1", kill=True)
    again = await run(tool, ctx, command=["echo", "room"])
    assert not again.is_error and again.output.endswith("room\n")


async def test_memory_is_capped_and_the_file_has_everything(
    manager: ProcessManager, ctx: ToolContext
) -> None:
    size = 5 * MAX_BUFFER_BYTES
    script = f"import sys; sys.stdout.write('a' * {size - 2} + 'z\\n')"
    result = await ShellTool(manager).run({"command": [PY, "-c", script]}, ctx)
    assert ctx.artifacts_dir is not None
    artifact = ctx.artifacts_dir / "call_1.txt"
    # The file has every byte, written as it came.
    assert artifact.stat().st_size == size
    assert artifact.read_bytes().endswith(b"az\n")
    # The rollout: a capped head and tail plus the file's path, not 5 MiB.
    assert len(result.full_output.encode()) < 70_000
    assert f"full output: {artifact}" in result.full_output
    assert result.full_output.endswith("az\n")
    assert len(result.output.encode()) < 17_000


async def test_a_process_buffers_at_most_its_cap(manager: ProcessManager, tmp_path: Path) -> None:
    """The unread output of a background process stays within the cap however much it prints."""
    script = "import sys\nfor _ in range(40): sys.stdout.write('b' * 100_000 + '\\n')"
    out = tmp_path / "out.txt"
    started = await manager.run([PY, "-c", script], cwd=tmp_path, yield_ms=0, output_file=out)
    assert started.process_id is not None
    result = await manager.poll(started.process_id, yield_ms=20_000)
    assert not result.running
    assert len(result.output) < MAX_BUFFER_BYTES + 200  # the cap plus its marker
    assert result.dropped_bytes == 40 * 100_001 - MAX_BUFFER_BYTES
    assert result.output_file == out and out.stat().st_size == 40 * 100_001
