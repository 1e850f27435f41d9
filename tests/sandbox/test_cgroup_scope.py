"""Real cgroup scopes around real commands, with no sandbox, under bubblewrap and under Landlock:
the process limit binds root, nothing a command starts outlives it (however it detaches), the
scope is removed, and nothing inside a sandbox can leave its scope or raise its limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lever.sandbox import cgroup
from lever.sandbox.base import NoSandbox, Sandbox
from lever.tools.command_limits import CommandLimits
from lever.tools.processes import ProcessManager
from tests.reliability.test_os_faults import marked_processes
from tests.sandbox.test_escapes import sandbox_for

PLACE = cgroup.place()
pytestmark = pytest.mark.skipif(
    PLACE.parent is None, reason=f"no cgroup scope can be made here: {PLACE.reason}"
)
MECHANISMS = ("none", "bwrap", "landlock")


def sandbox(mechanism: str) -> Sandbox:
    return NoSandbox() if mechanism == "none" else sandbox_for(mechanism)


def _scopes_of_this_process() -> set[Path]:
    assert PLACE.parent is not None
    return set(PLACE.parent.glob(f"{cgroup.PREFIX}{os.getpid()}-*"))


#: Scopes this worker already had when the test began: other tests in the same pytest worker
#: may still hold commands (their managers are closed later), so only new scopes count.
_BEFORE: set[Path] = set()


@pytest.fixture(autouse=True)
def _scopes_before() -> None:
    _BEFORE.clear()
    _BEFORE.update(_scopes_of_this_process())


def my_scopes() -> list[Path]:
    """The scopes this test made that still exist."""
    return sorted(_scopes_of_this_process() - _BEFORE)


def marker() -> str:
    return f"lever-scope-test-{os.getpid()}-{time.monotonic_ns()}"


async def gone(name: str, seconds: float = 3) -> list[int]:
    """The processes still marked `name` after waiting up to `seconds` (killed, to be safe)."""
    deadline = time.monotonic() + seconds
    while marked_processes(name) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    left = marked_processes(name)
    for pid in left:
        os.kill(pid, 9)
    return left


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp_path)}


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    m = ProcessManager(kill_grace_s=0.3, limits=CommandLimits(max_processes=64))
    yield m
    await m.close()


def detached(name: str) -> str:
    """Shell that starts a daemon out of the command's process group (a new session)."""
    return f"(setsid bash -c 'exec -a {name} sleep 300' &)"


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_daemon_left_behind_dies_and_the_scope_goes(
    mechanism: str, manager: ProcessManager, ws: Path, env: dict[str, str]
) -> None:
    name = marker()
    box = sandbox(mechanism)  # kept: its private temp dir lives as long as it does
    argv = box.wrap(["bash", "-c", f"{detached(name)}; echo started"], ws, env)
    result = await manager.run(argv, ws, env)
    assert result.exit_code == 0 and b"started" in result.output, result.output
    if mechanism == "none":
        # Unsandboxed, what a command leaves running lives on until the session ends (as
        # `server &` does); the scope keeps hold of it though it left the process group.
        assert marked_processes(name) and manager.busy()
        assert len(my_scopes()) == 1
    await manager.close()
    assert not await gone(name), "the daemon outlived the session"
    assert my_scopes() == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_timeout_kills_what_left_the_process_group(
    mechanism: str, manager: ProcessManager, ws: Path, env: dict[str, str]
) -> None:
    name = marker()
    box = sandbox(mechanism)
    argv = box.wrap(["bash", "-c", f"{detached(name)}; sleep 300"], ws, env)
    result = await manager.run(argv, ws, env, timeout_ms=1500)
    assert result.timed_out and not result.running
    # Before the session ends: the timeout itself killed the scope.
    assert not await gone(name, 1), "a detached process survived the command's timeout"
    assert my_scopes() == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_command_cancelled_while_it_starts_leaves_nothing(
    mechanism: str,
    manager: ProcessManager,
    ws: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The turn is cancelled after the process exists but before `run` holds it (a sub-agent
    stopped at its limit did this): neither it nor what it forked may outlive the cancel."""
    name = marker()
    started: list[asyncio.subprocess.Process] = []
    real_exec = asyncio.create_subprocess_exec

    async def cancelled_on_return(*args: object, **kwargs: object) -> asyncio.subprocess.Process:
        started.append(await real_exec(*args, **kwargs))  # type: ignore[arg-type]
        raise asyncio.CancelledError

    monkeypatch.setattr(asyncio, "create_subprocess_exec", cancelled_on_return)
    box = sandbox(mechanism)
    argv = box.wrap(["bash", "-c", f"{detached(name)}; exec -a {name} sleep 300"], ws, env)
    with pytest.raises(asyncio.CancelledError):
        await manager.run(argv, ws, env)
    monkeypatch.undo()
    assert not await gone(name, 2), "a process outlived the cancelled start"
    assert my_scopes() == []
    await asyncio.wait_for(started[0].wait(), 5)


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_the_process_limit_binds_root_and_is_announced(
    mechanism: str, ws: Path, env: dict[str, str]
) -> None:
    forks = (
        "import os, time\n"
        "for i in range(100):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(2); os._exit(0)\n"
        "    except OSError as exc:\n"
        "        print('refused after', i, exc.strerror); break\n"
    )
    manager = ProcessManager(kill_grace_s=0.3, limits=CommandLimits(max_processes=24))
    try:
        box = sandbox(mechanism)
        argv = box.wrap([sys.executable, "-c", forks], ws, env)
        result = await manager.run(argv, ws, env)
    finally:
        await manager.close()
    assert b"refused after" in result.output, result.output
    assert int(result.output.split()[2]) < 24
    assert "process limit (24 processes" in result.limit_note, result.limit_note
    assert my_scopes() == []


@pytest.mark.skipif(PLACE.memory is None, reason=f"no memory limit here: {PLACE.memory_reason}")
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_the_memory_limit_kills_inside_the_command_and_is_announced(
    mechanism: str, ws: Path, env: dict[str, str]
) -> None:
    """Two processes of 100 MiB each pass one of 160 MiB and fail together: the limit is the
    command's, not a process's (RLIMIT_AS could not say that), and lever lives on."""
    grow = (
        "import os, time\n"
        "os.fork()\n"
        "block = b'x' * (100 * 2**20)\n"
        "time.sleep(1)\n"
        "print('both alive', flush=True)\n"
    )
    limits = CommandLimits(max_processes=64, max_memory=160 * 2**20)
    manager = ProcessManager(kill_grace_s=0.3, limits=limits)
    try:
        box = sandbox(mechanism)
        result = await manager.run(box.wrap([sys.executable, "-c", grow], ws, env), ws, env)
        again = await manager.run(
            box.wrap([sys.executable, "-c", "print(2 ** 10)"], ws, env), ws, env
        )
    finally:
        await manager.close()
    assert result.output.count(b"both alive") < 2, result.output  # one of them was killed
    assert "hit the memory limit (160 MiB for it and everything" in result.limit_note, (
        result.limit_note
    )
    assert again.exit_code == 0 and again.output.strip() == b"1024" and again.limit_note == ""
    assert my_scopes() == []


@pytest.mark.parametrize("mechanism", ["bwrap", "landlock"])
async def test_a_sandboxed_command_cannot_leave_or_widen_its_scope(
    mechanism: str, manager: ProcessManager, ws: Path, env: dict[str, str]
) -> None:
    assert PLACE.parent is not None
    parent = PLACE.parent
    script = (
        f"for f in {parent}/lever-{os.getpid()}-*/pids.max; do echo max > $f && echo RAISED;"
        f" done; echo $$ > {parent}/cgroup.procs && echo LEFT; echo checked"
    )
    box = sandbox(mechanism)
    result = await manager.run(box.wrap(["bash", "-c", script], ws, env), ws, env)
    assert b"checked" in result.output, result.output
    assert b"RAISED" not in result.output and b"LEFT" not in result.output, result.output
    # Every write was tried, at paths that exist, and refused: the command's own pids.max (and
    # those of scopes other tests of this worker still hold) and the parent's cgroup.procs.
    assert b"No such file" not in result.output, result.output
    tried = [line for line in result.output.splitlines() if line != b"checked"]
    assert len(tried) >= 2 and b"cgroup.procs" in tried[-1], result.output
    assert all(b"Read-only file system" in line or b"denied" in line for line in tried), tried


async def test_without_a_scope_commands_run_as_before(
    monkeypatch: pytest.MonkeyPatch, manager: ProcessManager, ws: Path, env: dict[str, str]
) -> None:
    monkeypatch.setattr(cgroup, "place", lambda: cgroup.Place("none", reason="forced"))
    result = await manager.run(["bash", "-c", "ulimit -u; cat /proc/self/cgroup"], ws, env)
    assert result.exit_code == 0 and result.output.startswith(b"64\n"), result.output
    assert f"{cgroup.PREFIX}{os.getpid()}-".encode() not in result.output
    assert my_scopes() == []


def test_status_says_which_scope_commands_get() -> None:
    done = subprocess.run(
        ["lever", "sandbox", "--status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert PLACE.describe() in done.stdout.splitlines(), done.stdout


def v2_group() -> Path | None:
    """A new group in a writable cgroup v2 hierarchy with cgroup.kill, or None."""
    for mount in (cgroup.ROOT, cgroup.ROOT / "unified"):
        if (mount / "cgroup.controllers").is_file():
            path = mount / f"{cgroup.PREFIX}{os.getpid()}-v2test"
            try:
                path.mkdir()
            except OSError:
                return None
            if (path / "cgroup.kill").exists():
                return path
            path.rmdir()
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a group in the system's cgroup2 hierarchy")
async def test_v2_scopes_are_killed_whole_with_cgroup_kill() -> None:
    # Here pids is a v1 controller, so cgroup v2 serves no scope; its kill path still runs on
    # the real cgroup2 hierarchy (any group there has cgroup.kill).
    path = v2_group()
    if path is None:
        pytest.skip("no writable cgroup v2 hierarchy with cgroup.kill (Linux ≥ 5.14)")
    scope = cgroup.Scope(path, "v2")
    name = marker()
    script = f"{detached(name)}; for i in 1 2 3; do exec -a {name} sleep 300 & done; wait"
    proc = subprocess.Popen(["bash", "-c", script], preexec_fn=scope.join())
    try:
        deadline = time.monotonic() + 5
        while len(marked_processes(name)) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(scope.members()) >= 5 and scope.populated()
        await scope.close()
        assert not path.exists()
        assert proc.wait(5) == -9
        assert not await gone(name, 1)
    finally:
        if path.exists():
            path.rmdir()
