"""Time from launching `lever` to an interactive composer, in a real terminal (tmux).

    uv run python bench/tui_start.py [--runs 7] [--lever PATH]

Each run starts `lever` in a fresh tmux session (its own socket), with a model configured (a
base URL on 127.0.0.1; nothing is requested before the first prompt), and polls
`tmux capture-pane` every 5 ms until the composer's placeholder is on screen. Prints the median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

READY = "Ask lever to do something"


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
    return done.stdout


def one_run(lever: str, folder: Path, timeout: float = 20.0) -> float:
    socket = f"lever-bench-{uuid.uuid4().hex[:8]}"
    env = {"LEVER_HOME": str(folder / "home"), "TERM": "xterm-256color"}
    env_args = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    command = [lever, "--base-url", "http://127.0.0.1:9/v1", "--model", "bench-model"]
    try:
        began = time.perf_counter()
        tmux(socket, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", "-c", str(folder),
             *env_args, *command)  # fmt: skip
        while READY not in tmux(socket, "capture-pane", "-p", "-t", "b"):
            if time.perf_counter() - began > timeout:
                raise RuntimeError("the composer never appeared")
            time.sleep(0.005)
        return time.perf_counter() - began
    finally:
        tmux(socket, "kill-server")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lever", default=shutil.which("lever"))
    args = parser.parse_args()
    if not args.lever or not shutil.which("tmux"):
        print("tui_start: needs `lever` on PATH (uv run) and tmux", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "home").mkdir()
        os.environ.pop("OPENAI_API_KEY", None)
        times = [one_run(args.lever, folder) for _ in range(args.runs)]
    ms = sorted(t * 1000 for t in times)
    print(
        f"tui start (launch to interactive composer, tmux): median {statistics.median(ms):.0f} ms "
        f"over {len(ms)} runs (min {ms[0]:.0f}, max {ms[-1]:.0f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
