"""Peak RSS of K lever sessions running at once in one process (default 100 x 20 steps).

    uv run python bench/fleet_rss.py [--sessions 100] [--steps 20]

The fake model runs in its own process; every session runs `true` N times and stops at its
turn limit. Prints one JSON line: sessions, steps, errors, seconds, peak RSS in MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from common import vm_hwm_kb
from fake_server import start_fake_model

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.models.factory import make_client
from lever.tools.registry import default_tools


async def one(base_url: str, folder: Path, steps: int) -> str:
    session = Session(
        make_client("openai-responses", base_url, None),
        model="fake-model",
        provider="bench",
        cwd=folder,
        tools=default_tools(),
        limits=Limits(max_turns=steps),
    )
    session.start()
    finished = await session.run_turn("Run the steps.")
    await session.close()
    return finished.reason


async def fleet(base_url: str, folder: Path, sessions: int, steps: int) -> list[str]:
    folders = [folder / f"s{i}" for i in range(sessions)]
    for f in folders:
        f.mkdir()
    return list(await asyncio.gather(*(one(base_url, f, steps) for f in folders)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    call = {"tool_calls": [{"name": "shell", "arguments": {"command": ["true"]}}]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, base_url = start_fake_model([call] * (args.sessions * args.steps), folder)
        try:
            started = time.perf_counter()
            reasons = asyncio.run(fleet(base_url, folder, args.sessions, args.steps))
            elapsed = time.perf_counter() - started
        finally:
            server.kill()
            server.wait()
    errors = sum(reason != "limit" for reason in reasons)
    peak = vm_hwm_kb() / 1024  # not ru_maxrss: it keeps the parent's high-water mark
    print(json.dumps({"sessions": args.sessions, "steps": args.steps, "errors": errors,
                      "seconds": elapsed, "max_rss_mb": peak}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
