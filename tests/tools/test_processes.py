"""ProcessManager with real subprocesses: process groups, timeouts, background processes, stdin."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lever.testing.procs import alive
from lever.tools.processes import ProcessError, ProcessManager, ProcessStartError, group_alive

PY = sys.executable

ECHO_SCRIPT = """
import sys
print("ready", flush=True)
for line in sys.stdin:
    line = line.strip()
    if line == "quit":
        print("bye", flush=True)
        break
    print("echo:" + line, flush=True)
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # A HOME without profiles keeps `bash -l` fast and independent of this machine's dotfiles.
    return {**os.environ, "HOME": str(tmp_path)}


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    m = ProcessManager(kill_grace_s=0.3)
    yield m
    await m.close()


async def test_exit_code_duration_and_merged_output(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    result = await manager.run(
        ["bash", "-c", "echo out; echo err >&2; sleep 0.1; exit 3"], tmp_path, env
    )
    assert result.output == b"out\nerr\n"
    assert result.exit_code == 3
    assert not result.running and result.process_id is None
    assert 100 <= result.duration_ms < 5_000


async def test_timeout_kills_whole_process_group(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    script = "sleep 300 & echo $!; sleep 300 & echo $!; wait"
    started = time.monotonic()
    result = await manager.run(["bash", "-c", script], tmp_path, env, timeout_ms=500)
    assert time.monotonic() - started < 5
    assert result.timed_out and not result.running
    assert result.exit_code is not None and result.exit_code != 0
    children = [int(pid) for pid in result.output.split()]
    assert len(children) == 2
    for pid in [result.pid, *children]:
        assert not alive(pid), f"process {pid} survived the timeout"
    assert not group_alive(result.pid)


async def test_timeout_escalates_to_sigkill(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(300)"
    )
    result = await manager.run([PY, "-c", stubborn], tmp_path, env, timeout_ms=500)
    assert result.timed_out
    assert result.exit_code == -9
    assert not alive(result.pid)


@pytest.mark.parametrize(
    "argv",
    [
        ["cat"],
        [PY, "-c", "input()"],
        ["bash", "-c", "read x; echo got:$x"],
    ],
)
async def test_interactive_commands_see_eof(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str], argv: list[str]
) -> None:
    started = time.monotonic()
    result = await manager.run(argv, tmp_path, env, yield_ms=10_000)
    assert time.monotonic() - started < 5
    assert not result.running


async def read_until(manager: ProcessManager, process_id: str, first: bytes, want: bytes) -> bytes:
    """Poll until `want` has arrived (bounded); timing-proof on a loaded machine."""
    output = first
    deadline = time.monotonic() + 10
    while want not in output and time.monotonic() < deadline:
        result = await manager.poll(process_id, yield_ms=100)
        output += result.output
    return output


async def test_background_process_poll_stdin_and_quit(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    result = await manager.run(
        [PY, "-u", "-c", ECHO_SCRIPT], tmp_path, env, yield_ms=300, keep_stdin_open=True
    )
    assert result.running and result.exit_code is None
    assert result.process_id == "p1"
    assert result.stdin_open
    assert manager.running_ids() == ["p1"]
    assert await read_until(manager, "p1", result.output, b"ready\n") == b"ready\n"

    # Nothing new since the last read.
    result = await manager.poll("p1", yield_ms=100)
    assert result.running and result.output == b""

    # Each poll returns only what is new: the replies, exactly once, never "ready" again.
    result = await manager.poll("p1", yield_ms=300, stdin="hello\n")
    assert await read_until(manager, "p1", result.output, b"\n") == b"echo:hello\n"
    result = await manager.poll("p1", yield_ms=300, stdin="again\n")
    assert await read_until(manager, "p1", result.output, b"\n") == b"echo:again\n"

    result = await manager.poll("p1", yield_ms=10_000, stdin="quit\n")
    assert not result.running
    assert result.exit_code == 0
    assert result.output == b"bye\n"
    assert manager.running_ids() == []
    with pytest.raises(ProcessError, match="no running process 'p1'"):
        await manager.poll("p1")


async def test_close_kills_background_processes(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    result = await manager.run(["sleep", "300"], tmp_path, env, yield_ms=100)
    assert result.running and result.process_id == "p1"
    assert alive(result.pid)
    await manager.close()
    assert not alive(result.pid)
    assert manager.running_ids() == []
    with pytest.raises(ProcessError):
        await manager.run(["true"], tmp_path, env)


async def test_kill_stops_the_group(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    result = await manager.run(
        ["bash", "-c", "sleep 300 & echo $!; wait"], tmp_path, env, yield_ms=300
    )
    child = int(result.output)
    assert result.running and alive(child)
    result = await manager.kill("p1")
    assert result.killed and not result.running
    assert result.exit_code == -15
    assert not alive(child)
    assert not group_alive(result.pid)


async def test_poll_returns_output_since_last_read(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    script = "for i in 1 2 3 4 5; do echo tick$i; sleep 0.15; done"
    result = await manager.run(["bash", "-c", script], tmp_path, env, yield_ms=100)
    assert result.running and result.process_id
    outputs = [result.output]
    while result.running:
        result = await manager.poll(result.process_id, yield_ms=100)
        outputs.append(result.output)
    assert result.exit_code == 0
    assert len(outputs) >= 3
    # Together the reads hold every tick exactly once, in order.
    assert b"".join(outputs) == b"".join(b"tick%d\n" % i for i in range(1, 6))


async def test_stdin_needs_keep_stdin_open(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    result = await manager.run(["sleep", "300"], tmp_path, env, yield_ms=50)
    with pytest.raises(ProcessError, match="keep_stdin_open"):
        await manager.poll(result.process_id or "", stdin="x\n")


async def test_cancelling_run_kills_the_group(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    pids: list[int] = []

    def on_chunk(text: str) -> None:
        pids.extend(int(pid) for pid in text.split())

    task = asyncio.create_task(
        manager.run(["bash", "-c", "sleep 300 & echo $!; wait"], tmp_path, env, on_chunk=on_chunk)
    )
    for _ in range(200):
        if pids:
            break
        await asyncio.sleep(0.01)
    assert pids and alive(pids[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(pids[0])


async def test_leader_exit_with_background_child_holding_pipe(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    started = time.monotonic()
    result = await manager.run(["bash", "-c", "sleep 300 & echo $!"], tmp_path, env)
    assert time.monotonic() - started < 3
    assert result.exit_code == 0 and not result.running
    child = int(result.output)
    assert alive(child)
    # The session's end still removes it.
    await manager.close()
    assert not alive(child)


async def test_chunks_are_delivered_live_and_in_order(
    manager: ProcessManager, tmp_path: Path, env: dict[str, str]
) -> None:
    chunks: list[str] = []
    result = await manager.run(
        [PY, "-c", "import sys; [print('é' * 5000, i, flush=True) for i in range(50)]"],
        tmp_path,
        env,
        on_chunk=chunks.append,
    )
    assert "".join(chunks) == result.output.decode()
    assert all("\ufffd" not in chunk for chunk in chunks)


async def test_unread_output_is_bounded(tmp_path: Path, env: dict[str, str]) -> None:
    manager = ProcessManager(max_buffer_bytes=1_000)
    try:
        result = await manager.run(
            [PY, "-c", "print('A' * 5000 + 'Z' * 5000, end='')"], tmp_path, env
        )
    finally:
        await manager.close()
    assert result.dropped_bytes == 9_000
    assert result.output.startswith(b"A" * 500 + b"\n[lever: 9,000 bytes")
    assert result.output.endswith(b"]\n" + b"Z" * 500)


async def test_start_failures(manager: ProcessManager, tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ProcessStartError, match="command not found: no-such-program-xyz"):
        await manager.run(["no-such-program-xyz"], tmp_path, env)
    with pytest.raises(ProcessStartError, match="working directory not found"):
        await manager.run(["true"], tmp_path / "missing", env)
    with pytest.raises(ProcessStartError, match="empty command"):
        await manager.run([], tmp_path, env)
