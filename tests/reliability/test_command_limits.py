"""Per-command resource limits: set on every command (through the sandbox), and each one, when a
command hits it, announced to the model in the tool's output. The process limit binds root where
a cgroup scope can be made (lever.sandbox.cgroup); tests/sandbox/test_cgroup.py covers the rest."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from lever.sandbox.cgroup import place
from lever.testing.fake_model import FakeModelServer
from lever.tools.command_limits import DEFAULT_MAX_PROCESSES, GIB, CommandLimits

from .conftest import run_exec, run_lever
from .test_os_faults import marked_processes

DONE = {"text": "All done."}


def shell(script: str) -> dict:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": ["bash", "-c", script]}}]}


def tool_output(server: FakeModelServer) -> str:
    """What the model was shown of the command (the last tool output it was sent)."""
    return json.dumps(server.bodies()[-1]["input"][-1])


def test_limits_reach_the_command_through_the_sandbox(env, work) -> None:
    with FakeModelServer([shell("ulimit -u; ulimit -v; ulimit -f"), DONE]) as server:
        run = run_exec(
            server.base_url, env, work, "-c", "command_limits.max_processes=777", "-c",
            "command_limits.max_address_space=8589934592", "-c",
            "command_limits.max_file_bytes=1048576",
        )  # fmt: skip
        shown = tool_output(server)
    assert run.code == 0, run.stderr
    # bash reports -v and -f in KiB.
    assert "777\\n8388608\\n1024" in shown, shown


def test_default_limits_are_far_above_a_normal_build(env, work) -> None:
    with FakeModelServer([shell("ulimit -u; ulimit -f"), DONE]) as server:
        run = run_exec(server.base_url, env, work)
        shown = tool_output(server)
    assert run.code == 0, run.stderr
    assert f"{DEFAULT_MAX_PROCESSES}\\n{16 * GIB // 1024}" in shown, shown


def test_file_size_limit_is_announced(env, work) -> None:
    script = "head -c 1000000 /dev/zero > big.bin; echo wrote $(stat -c %s big.bin)"
    with FakeModelServer([shell(script), DONE]) as server:
        run = run_exec(server.base_url, env, work, "-c", "command_limits.max_file_bytes=100000")
        shown = tool_output(server)
    assert run.code == 0, run.stderr
    assert "hit the file size limit (100,000 bytes per file" in shown, shown
    assert (work / "big.bin").stat().st_size == 100_000


def test_address_space_limit_is_announced(env, work) -> None:
    # Only the last line of Python's report: the suite checks that no traceback reached stderr.
    script = "set -o pipefail; python3 -c 'x = bytearray(4 * 1024**3)' 2>&1 | tail -1"
    with FakeModelServer([shell(script), DONE]) as server:
        run = run_exec(
            server.base_url, env, work, "-c", "command_limits.max_address_space=1073741824"
        )
        shown = tool_output(server)
    assert run.code == 0, run.stderr
    assert "MemoryError" in shown
    assert "address-space limit (1 GiB per process" in shown, shown


#: Neither limit binds: a fork bomb must not run on this machine.
NO_PROCESS_LIMIT = os.geteuid() == 0 and place().parent is None
UNBOUND = f"RLIMIT_NPROC does not bind root, and no cgroup scope here ({place().reason})"


@pytest.mark.skipif(NO_PROCESS_LIMIT, reason=UNBOUND)
def test_process_limit_stops_a_fork_bomb(env, work) -> None:
    script = "for i in $(seq 200); do sleep 5 & done; wait"
    with FakeModelServer([shell(script), DONE]) as server:
        run = run_exec(server.base_url, env, work, "-c", "command_limits.max_processes=50")
        shown = tool_output(server)
    assert run.code == 0, run.stderr
    assert "process limit (50 processes" in shown, shown


@pytest.mark.skipif(
    place().parent is None,
    reason=f"needs a cgroup scope (RLIMIT_NPROC alone counts the user's other processes too, "
    f"or binds nothing as root): {place().reason}",
)
def test_a_real_fork_bomb_is_stopped_and_announced(env, work) -> None:
    # The classic `:(){ :|:& };:`: every call starts two more in the background and returns.
    # `timeout` puts the bomb in a process group of its own, out of the command's, but not out
    # of its scope: pids.max holds it, and it dies with the scope.
    marker = f"lever-bomb-{os.getpid()}-{time.monotonic_ns()}"
    bomb = "b(){ b | b & }; b; sleep 2; echo bomb over"
    call = {"command": ["timeout", "-s", "KILL", "10", "bash", "-c", bomb, marker]}
    with FakeModelServer([{"tool_calls": [{"name": "shell", "arguments": call}]}, DONE]) as server:
        run = run_exec(server.base_url, env, work, "-c", "command_limits.max_processes=64")
        shown = tool_output(server)
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = marked_processes(marker)
    for pid in left:  # never leave a bomb to the next test
        os.kill(pid, signal.SIGKILL)
    assert run.code == 0, run.stderr
    assert "process limit (64 processes" in shown, shown
    assert not left, f"{len(left)} processes of the bomb outlived the session"


def test_a_limit_is_lifted_with_zero(env, work) -> None:
    with FakeModelServer([shell("ulimit -f"), DONE]) as server:
        run_exec(server.base_url, env, work, "-c", "command_limits.max_file_bytes=0")
        shown = tool_output(server)
    assert "unlimited" in shown, shown


def test_bad_limit_is_a_usage_error(env, work) -> None:
    result = run_lever("exec", "-c", "command_limits.max_processes=-1", "go", env=env, cwd=work)
    assert result.returncode == 2
    assert "max_processes" in result.stderr and "Traceback" not in result.stderr


def test_notes_name_the_limit_the_ending_points_at() -> None:
    limits = CommandLimits(max_processes=64, max_address_space=GIB, max_file_bytes=10)
    xfsz = int(signal.SIGXFSZ)
    assert "file size limit (10 bytes" in limits.note(-xfsz, b"")
    assert "file size limit" in limits.note(128 + xfsz, b"")
    assert "address-space" in limits.note(1, b"Traceback...\nMemoryError\n")
    assert "process limit (64" in limits.note(
        254, b"bash: fork: retry: Resource temporarily unavailable\n"
    )
    assert limits.note(0, b"MemoryError") == ""
    assert limits.note(1, b"an ordinary failure") == ""
    assert CommandLimits(None, None, None).preexec() is None


def test_output_file_keeps_its_head_and_tail_within_its_cap(tmp_path) -> None:
    from lever.tools.process_output import OutputFile

    path = tmp_path / "out.txt"
    spill = OutputFile(path, threshold=10, limit=1000)
    for i in range(10_000):
        spill.add(f"{i:05d}\n".encode())
    spill.close()
    kept = path.read_bytes()
    assert kept.startswith(b"00000\n00001\n") and kept.endswith(b"09998\n09999\n")
    assert b"[lever: 59,000 bytes of output left out here" in kept
    assert len(kept) < 1000 + 200


@pytest.mark.skipif(place().parent is None, reason=f"no cgroup scope here: {place().reason}")
def test_unsandboxed_daemons_die_with_their_scope(env, work) -> None:
    # Without a sandbox nothing else reaps a daemon that left the command's process group:
    # before the scope, `setsid` made it outlive the session.
    marker = f"lever-unsandboxed-{os.getpid()}-{time.monotonic_ns()}"
    script = f"(setsid bash -c 'exec -a {marker} sleep 300' &); echo started"
    with FakeModelServer([shell(script), DONE]) as server:
        run = run_exec(server.base_url, env, work, "--sandbox", "danger-full-access")
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = marked_processes(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert run.code == 0, run.stderr
    assert not left, "a setsid daemon outlived the unsandboxed session"
