"""lever's benchmarks: `uv run python bench/run.py` prints a table (Markdown).

Measured, never asserted in tests. What is measured:
- cold start of `lever --version` and `lever --help` (median of N runs, a new process each);
- harness overhead per step: a session whose scripted model (the fake server, instant) asks for
  `true` N times, minus the time the same commands take when run directly;
- peak memory (max RSS) of that session's process.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time_command(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def _direct_true_ms(runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run(["true"], check=True)
    return (time.perf_counter() - started) / runs * 1000


def bench_steps(steps: int) -> tuple[float, float, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("step_session.py")), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    per_step = result["elapsed"] / (steps + 1) * 1000
    command = _direct_true_ms(steps)
    return per_step, per_step - command, result["max_rss_kb"] / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="process starts per start-up figure")
    parser.add_argument("--steps", type=int, default=200, help="steps in the overhead session")
    args = parser.parse_args()
    lever = shutil.which("lever")
    if lever is None:
        print("run through `uv run` so that `lever` is installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory():
        version_ms = _time_command([lever, "--version"], args.runs)
        help_ms = _time_command([lever, "--help"], args.runs)
    per_step, overhead, rss = bench_steps(args.steps)
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print()
    print("| measure | value | budget |")
    print("| --- | --- | --- |")
    print(
        f"| `lever --version` cold start (median of {args.runs}) | {version_ms:.0f} ms | < 80 ms |"
    )
    print(f"| `lever --help` cold start (median of {args.runs}) | {help_ms:.0f} ms | < 80 ms |")
    print(
        f"| step with `true` against an instant model ({args.steps} steps) | {per_step:.1f} ms | |"
    )
    print(f"| harness overhead per step (minus `true` run directly) | {overhead:.1f} ms | < 5 ms |")
    print(f"| peak memory of that session (max RSS) | {rss:.0f} MB | < 80 MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
