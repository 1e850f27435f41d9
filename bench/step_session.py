"""One session of N shell steps against the instant fake model; prints its time and peak RSS.

Run by bench/run.py in a fresh process so the memory figure is the session's own.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from fake_server import start_fake_model

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.models.factory import make_client
from lever.tools.registry import default_tools


async def run(steps: int) -> float:
    call = {
        "tool_calls": [{"name": "shell", "arguments": {"command": ["true"]}}],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    folder = Path(tempfile.mkdtemp())
    server, base_url = start_fake_model([call] * steps + [{"text": "done"}], folder)
    try:
        session = Session(
            make_client("openai-chat", base_url, None),
            model="m",
            provider="bench",
            cwd=folder,
            tools=default_tools(),
            limits=Limits(max_turns=steps + 5),
        )
        session.start()
        started = time.perf_counter()
        finished = await session.run_turn("go")
        elapsed = time.perf_counter() - started
        await session.close()
    finally:
        server.kill()
    if finished.reason != "done":
        raise SystemExit(f"bench session ended with {finished.reason}: {finished.detail}")
    return elapsed


if __name__ == "__main__":
    seconds = asyncio.run(run(int(sys.argv[1])))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed": seconds, "max_rss_kb": peak_kb}))
