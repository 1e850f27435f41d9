"""Helpers shared by the benchmark sections: timing whole processes, statistics, commands."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The step every agent runs: a trivial shell command appending to a file.
STEP_COMMAND = "echo step >> log.txt"


@dataclass
class ProcessRun:
    wall_s: float
    cpu_s: float  # user + system of the process and the children it waited for
    max_rss_mb: float  # largest peak RSS (VmHWM) of the process or any one descendant
    returncode: int


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> ProcessRun:
    """Run argv to its end (stdin /dev/null, output discarded); wall, CPU and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    peak = PeakRSS(proc.pid)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        peak.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    return ProcessRun(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=peak.mb,
        returncode=proc.returncode,
    )


def vm_hwm_kb(pid: int | str = "self") -> int:
    """Peak RSS of a process since its last exec (`ru_maxrss` would carry its parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakRSS:
    """Samples VmHWM of a process and its descendants every 20 ms; `mb` is the largest seen.

    Not `wait4`'s `ru_maxrss`: Linux keeps the high-water mark across exec, so a process
    spawned by a large parent (this bench) would report the parent's size.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def mb(self) -> float:
        return self.kb / 1024

    def _run(self) -> None:
        while not self._done.wait(0.02):
            for pid in _tree(self.pid):
                self.kb = max(self.kb, vm_hwm_kb(pid))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        tasks: list[Path] = []
        # A process can end between two reads of /proc: it then has no children to list.
        with contextlib.suppress(OSError):
            tasks = list(Path(f"/proc/{current}/task").glob("*/children"))
        for task in tasks:
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in task.read_text().split()]
    return found


def spread(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max and interquartile range of `samples` (in their unit)."""
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "iqr": q[2] - q[0],
        "n": len(ordered),
    }


def time_starts(
    argv: Sequence[str], runs: int, env: Mapping[str, str] | None = None
) -> dict[str, float]:
    """Wall time in ms of `argv` as a whole new process, over `runs` runs."""
    samples = []
    for _ in range(runs):
        run = run_process(argv, env=env, timeout=120)
        if run.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited with {run.returncode}")
        samples.append(run.wall_s * 1000)
    return spread(samples)


def first_request_ms(
    argv_for: Callable[[str], Sequence[str]],
    runs: int,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, float]:
    """ms from spawning an agent to its first request's headers arriving at a loopback socket.

    `argv_for(base_url)` builds the command line. The socket only accepts and reads; the agent
    is killed as soon as its first request line arrives.
    """
    samples = []
    for _ in range(runs):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            listener.settimeout(120)
            base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
            started = time.perf_counter()
            proc = subprocess.Popen(
                list(argv_for(base_url)),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                samples.append(_await_post(listener) - started)
            finally:
                proc.kill()
                proc.wait()
    return spread([s * 1000 for s in samples])


def _await_post(listener: socket.socket) -> float:
    """perf_counter() when a POST request line arrives (GETs, e.g. model lists, are skipped)."""
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(120)
            data = b""
            while b"\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"POST"):
                return time.perf_counter()
            conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")


def command_cost(argv: Sequence[str], cwd: Path, runs: int) -> dict[str, float]:
    """The command's own wall and CPU time in ms, run directly (the floor of one step)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run(list(argv), cwd=cwd, check=True, stdin=subprocess.DEVNULL)
    wall = (time.perf_counter() - started) / runs * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / runs * 1000
    return {"wall_ms": wall, "cpu_ms": cpu}
