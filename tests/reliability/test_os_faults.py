"""Faults from the machine and the model's habits: SIGTERM at any point, daemons left behind,
gigabytes of output, the workspace deleted mid-session, a model repeating a failing call,
rollouts cut at any byte. Each ends recovered or with a clear error and its exit code."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import (
    FAST,
    assert_group_gone,
    check_rollout,
    lever_bin,
    rollouts,
    run_exec,
    run_lever,
)

DONE = {"text": "All done."}


def shell(script: str, **more: object) -> dict:
    arguments = {"command": ["bash", "-c", script], **more}
    return {"tool_calls": [{"name": "shell", "arguments": arguments}]}


def start_exec(server: FakeModelServer, env: dict[str, str], work: Path) -> subprocess.Popen:
    wire = ("--provider", "openai-responses", "--base-url", server.base_url, "--model", "m")
    return subprocess.Popen(
        [lever_bin(), "exec", *wire, *FAST, "go"],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def marked_processes(marker: str) -> list[int]:
    """Live processes whose command line holds `marker` (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


# -- SIGTERM at any point -------------------------------------------------------------------

POINTS = {
    "while the model streams": (
        [shell("echo before"), {"text": "still going", "fault": "stall"}],
        lambda server, work: server.turns_used >= 2,
    ),
    "while a command runs": (
        [shell("echo started > started.txt; sleep 60")],
        lambda server, work: (work / "started.txt").exists(),
    ),
    "while the reply headers are awaited": (
        [shell("echo before"), {"text": "late", "delay_ms": 60_000}],
        lambda server, work: server.turns_used >= 2,
    ),
    "right after a tool finished": (
        [shell("echo one"), shell("echo two"), shell("sleep 60")],
        lambda server, work: server.turns_used >= 3,
    ),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigterm_then_resume_loses_nothing_flushed(point, env, work) -> None:
    turns, reached = POINTS[point]
    with FakeModelServer([*turns, {"text": "finished"}, {"text": "finished"}]) as server:
        process = start_exec(server, env, work)
        wait_for(lambda: reached(server, work) and rollouts(env), point)
        time.sleep(0.3)
        os.kill(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert_group_gone(process.pid)
        assert process.returncode == 130, stderr  # interrupted, said so, rollout closed
        assert "Traceback" not in stderr
        (path,) = rollouts(env)
        flushed = path.read_text().splitlines()
        check_rollout(path)
        result = run_lever("resume", "--last", *FAST, "go on", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("finished\n")
    check_rollout(path)
    assert path.read_text().splitlines()[: len(flushed)] == flushed  # nothing flushed lost


# -- processes left behind ------------------------------------------------------------------


def test_a_command_that_forks_daemons_leaves_none_behind(env, work) -> None:
    marker = f"lever-daemon-{os.getpid()}-{time.monotonic_ns()}"
    script = (
        f"(setsid sleep 300 {marker} &); "  # a new session: out of the command's group
        f"nohup bash -c 'exec -a {marker} sleep 300' >/dev/null 2>&1 & disown; "
        f"(trap '' TERM HUP; exec -a {marker} sleep 300) & "  # deaf to SIGTERM
        "echo daemons started"
    )
    with FakeModelServer([shell(script), DONE]) as server:
        run = run_exec(server.base_url, env, work)
    assert run.code == 0, run.stderr
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = marked_processes(marker)
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"daemons outlived the session: {left}"


# -- gigabytes of output --------------------------------------------------------------------

GIB = 1024**3


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_gigabytes_of_output_keep_lever_small(env, work) -> None:
    # Before: 1-2 GiB printed peaked lever at ~500 MB RSS and added ~164 MB of session files.
    size = 2 * GIB
    script = f"yes 'a line of output from a very chatty build' | head -c {size}; echo; echo END"
    call = shell(script, yield_ms=300_000, timeout_ms=1_200_000)
    with FakeModelServer([call, DONE]) as server:
        process = start_exec(server, env, work)
        captured: dict[str, str] = {}
        readers = [
            threading.Thread(target=lambda n=n, f=f: captured.__setitem__(n, f.read()))
            for n, f in (("out", process.stdout), ("err", process.stderr))
        ]
        for reader in readers:
            reader.start()
        peak = 0
        while process.poll() is None:
            peak = max(peak, peak_rss_kb(process.pid))  # VmHWM: the peak so far
            time.sleep(0.1)
        for reader in readers:
            reader.join()
        shown = str(server.bodies()[-1]["input"][-1])
    assert process.returncode == 0, captured["err"][-2000:]
    assert "exit code: 0" in shown and "END" in shown
    assert len(shown) < 64 * 1024  # the model sees a cut, bounded view
    assert 0 < peak < 150 * 1024, f"lever peaked at {peak / 1024:.0f} MB"
    sessions = Path(env["LEVER_HOME"]) / "sessions"
    added = sum(p.stat().st_size for p in sessions.rglob("*") if p.is_file())
    assert added < 10 * 2**20, f"{added / 2**20:.1f} MB added to the session files"
    (output_file,) = sessions.rglob("call_*.txt")  # the command's output file
    kept = output_file.read_bytes()
    assert b"bytes of output left out here" in kept and kept.rstrip().endswith(b"END")


# -- the workspace deleted under a running session ------------------------------------------


def test_workspace_deleted_mid_session_ends_cleanly(env, work) -> None:
    turns = [
        shell("echo started > started.txt; sleep 2; echo after"),
        shell("ls"),
        {"text": "The folder is gone."},
    ]
    with FakeModelServer(turns) as server:
        process = start_exec(server, env, work)
        wait_for(lambda: (work / "started.txt").exists(), "the first command")
        shutil.rmtree(work)
        _, stderr = process.communicate(timeout=60)
        assert_group_gone(process.pid)
        shown = str(server.bodies()[-1]["input"][-1])
    assert "Traceback" not in stderr
    assert process.returncode == 0, stderr
    assert "does not exist" in shown or "No such file" in shown, shown
    (path,) = rollouts(env)
    check_rollout(path)


# -- a model that repeats the same failing call ---------------------------------------------


def test_a_model_repeating_a_failing_call_is_told_then_stopped(env, work) -> None:
    # On by default for local model servers (`stuck_detection`), asked for here.
    failing = shell("cat no-such-file")
    with FakeModelServer([failing] * 6) as server:
        run = run_exec(server.base_url, env, work, "-c", "stuck_detection=true")
        requests = server.bodies()
    assert run.code == 8, run.stderr  # stuck
    assert "repeated the same `shell` call" in run.stderr
    assert len(requests) == 3  # the call, its repeat (told), the repeat after being told
    assert "same tool call again" in str(requests[2]["input"])


# -- rollouts cut at any byte ---------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.35, 0.5, 0.75, 0.95])
def test_rollout_cut_anywhere_resumes_or_refuses_clearly(fraction, env, work) -> None:
    replies = [{"text": "two"}, {"text": "three"}]  # a cut open turn is finished first
    with FakeModelServer([shell("echo hi"), {"text": "one"}, *replies]) as server:
        run = run_exec(server.base_url, env, work)
        assert run.code == 0, run.stderr
        (path,) = rollouts(env)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        result = run_lever("resume", "--last", *FAST, "again", env=env, cwd=work)
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert result.stdout.endswith(("two\n", "three\n")), result.stdout
        check_rollout(path)
    else:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
