"""`lever serve` as a user runs it, for the tests that need a real socket: its environment (no
LEVER_* setting or API key from the machine running the tests) and the process."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..e2e.conftest import lever_bin


def serve_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("LEVER_")
    }
    env["LEVER_HOME"] = str(home)
    return env


@contextmanager
def lever_serve(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`lever serve --port 0`: the process and the URL with the token it printed. Stopped
    with Ctrl-C (then killed) unless the test stopped it."""
    process = subprocess.Popen(
        [lever_bin(), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("lever dashboard: http://127.0.0.1:"), line
        yield process, line.split(": ", 1)[1].strip()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()
