"""Time from launching `lever` to an interactive composer, in a real terminal (tmux).

    uv run python bench/tui_start.py [--runs 7] [--lever PATH] [--no-bytecode-cache]

Each run opens a fresh tmux server (its own socket) holding a placeholder process, then starts
the clock and has tmux respawn the pane with `lever` — so tmux's own start-up is not counted.
A model is configured (a base URL on 127.0.0.1; nothing is requested before the first prompt).
The screen is read through one tmux control-mode client (`capture-pane` every 2 ms, no process
spawned per look, so the polling barely competes with lever for the CPU) until the composer's
placeholder is on screen. Prints the median.

Python's bytecode caches are on, as for an installed lever: `PYTHONDONTWRITEBYTECODE` is
dropped, caches go to a private `PYTHONPYCACHEPREFIX`, and one unmeasured run fills them.
`--no-bytecode-cache` measures a start that compiles every module from source instead.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

READY = "Ask lever to do something"
#: The banner the session's first event draws: config read, client built, sandbox probed.
SESSION = "lever · bench-model via"
POLL_S = 0.002


class Control:
    """A tmux control-mode client: commands in, `%begin … %end` blocks out."""

    def __init__(self, socket: str) -> None:
        self.process = subprocess.Popen(
            ["tmux", "-L", socket, "-C", "attach-session", "-t", "b"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout
        self._reply()  # attaching answers first, as if it were a command
        self.command("refresh-client -f no-output")  # no %output stream: less to read

    def command(self, line: str) -> str:
        self.stdin.write(line + "\n")
        self.stdin.flush()
        return self._reply()

    def _reply(self) -> str:
        lines: list[str] = []
        inside = False
        for raw in self.stdout:
            text = raw.rstrip("\n")
            if text.startswith("%begin"):
                inside, lines = True, []
            elif text.startswith(("%end", "%error")) and inside:
                return "\n".join(lines)
            elif inside:
                lines.append(text)
        raise RuntimeError("the tmux control client went away")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def tmux(socket: str, *args: str) -> None:
    subprocess.run(["tmux", "-L", socket, *args], capture_output=True, check=False)


def one_run(
    lever: str, folder: Path, env: dict[str, str], timeout: float = 30.0
) -> tuple[float, float]:
    """(seconds to the composer, seconds to the open session)."""
    socket = f"lever-bench-{uuid.uuid4().hex[:8]}"
    tmux(socket, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", "-c", str(folder),
         "sleep", "600")  # fmt: skip
    control = Control(socket)
    command = [lever, "--base-url", "http://127.0.0.1:9/v1", "--model", "bench-model"]
    env_args = " ".join(f"-e {shlex.quote(f'{name}={value}')}" for name, value in env.items())
    respawn = f"respawn-pane -k -t b -c {shlex.quote(str(folder))} {env_args} " + " ".join(
        shlex.quote(word) for word in command
    )
    try:
        began = time.perf_counter()
        control.command(respawn)
        found: dict[str, float] = {}
        while len(found) < 2:
            screen = control.command("capture-pane -p -t b")
            now = time.perf_counter() - began
            for text in (READY, SESSION):
                if text in screen:
                    found.setdefault(text, now)
            if now > timeout:
                missing = [text for text in (READY, SESSION) if text not in found]
                raise RuntimeError(f"never on screen: {missing}")
            time.sleep(POLL_S)
        return found[READY], found[SESSION]
    finally:
        control.close()
        tmux(socket, "kill-server")


def launch_env(folder: Path, bytecode_cache: bool) -> dict[str, str]:
    env = {"LEVER_HOME": str(folder / "home"), "TERM": "xterm-256color"}
    if bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lever", default=shutil.which("lever"))
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="compile every module at each start"
    )
    args = parser.parse_args()
    if not args.lever or not shutil.which("tmux"):
        print("tui_start: needs `lever` on PATH (uv run) and tmux", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "home").mkdir()
        os.environ.pop("OPENAI_API_KEY", None)
        # The tmux server passes its own environment on; these must not reach lever from it.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.pop("PYTHONPYCACHEPREFIX", None)
        env = launch_env(folder, not args.no_bytecode_cache)
        one_run(args.lever, folder, env)  # warm-up: fills the bytecode cache, the page cache
        runs = [one_run(args.lever, folder, env) for _ in range(args.runs)]
    cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
    print(f"tui start (launch to interactive composer, tmux, {cache}): {_summary(runs, 0)}")
    print(f"  and to the open session (its banner on screen): {_summary(runs, 1)}")
    return 0


def _summary(runs: list[tuple[float, float]], which: int) -> str:
    ms = sorted(run[which] * 1000 for run in runs)
    return (
        f"median {statistics.median(ms):.0f} ms over {len(ms)} runs "
        f"(min {ms[0]:.0f}, max {ms[-1]:.0f})"
    )


if __name__ == "__main__":
    sys.exit(main())
