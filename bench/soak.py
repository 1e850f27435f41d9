"""Soak: a long scripted session with compaction; memory and request size must stay flat.

    uv run python bench/soak.py [--steps 10000] [--window 16000]
    uv run python bench/soak.py --minutes 30 [--sessions 4] [--json FILE]  # the timed soak
    uv run python bench/soak.py --table FILE   # its table again, from the saved samples

The fake model runs in its own process (its request log must not count against lever's memory).
Each step is one model request and one `true` command; compaction happens whenever the history
passes the threshold. Prints a Markdown table: peak RSS and largest request in the first and the
last 1,000 steps, their ratios, the number of compactions, the rollout size and time per step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from fake_server import start_fake_model

from lever.agent.budget import TokenBudget
from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.models.factory import make_client
from lever.protocol import Compaction, ToolFinished
from lever.store.rollout import RolloutWriter
from lever.tools.registry import default_tools

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def soak_turns(steps: int) -> list[dict[str, object]]:
    # The step's text doubles as the hand-off summary when a compaction asks for one.
    step = {
        "text": "Step done; the next step prints again.",
        "tool_calls": [{"name": "shell", "arguments": {"command": ["true"]}}],
    }
    return [step] * (steps * 2) + [{"text": "done"}]


async def soak(steps: int, window: int, folder: Path, base_url: str) -> dict[str, float]:
    session = Session(
        make_client("openai-chat", base_url, None),
        model="m",
        provider="soak",
        cwd=folder,
        tools=default_tools(),
        rollout=RolloutWriter(folder / "rollout.jsonl"),
        budget=TokenBudget(window),
        limits=Limits(max_turns=None),
    )
    samples: list[tuple[int, int]] = []  # (rss, request bytes) per step
    compactions = 0

    def on_event(event: object) -> None:
        nonlocal compactions
        if isinstance(event, ToolFinished):
            samples.append((rss_bytes(), session._request_bytes()))
            if len(samples) >= steps:
                session.interrupt()
        elif isinstance(event, Compaction):
            compactions += 1

    session.subscribe(on_event)
    session.start()
    started = time.perf_counter()
    await session.run_turn("Run the steps until told to stop.")
    elapsed = time.perf_counter() - started
    await session.close()
    head, tail = samples[:1000], samples[-1000:]
    return {
        "steps": len(samples),
        "compactions": compactions,
        "rss_first_mb": max(r for r, _ in head) / 2**20,
        "rss_last_mb": max(r for r, _ in tail) / 2**20,
        "request_first_kb": max(b for _, b in head) / 1024,
        "request_last_kb": max(b for _, b in tail) / 1024,
        "rollout_mb": (folder / "rollout.jsonl").stat().st_size / 2**20,
        "ms_per_step": elapsed / len(samples) * 1000,
    }


def main() -> int:
    if any(flag in sys.argv for flag in ("--minutes", "--serve", "--table")):
        from soak_sessions import main as timed

        return timed(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=16_000, help="context window in tokens")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, base_url = start_fake_model(soak_turns(args.steps), Path(tmp))
        try:
            r = asyncio.run(soak(args.steps, args.window, Path(tmp), base_url))
        finally:
            server.kill()
    print("| measure | first 1,000 steps | last 1,000 steps | ratio |")
    print("| --- | --- | --- | --- |")
    rss_ratio = r["rss_last_mb"] / r["rss_first_mb"]
    req_ratio = r["request_last_kb"] / r["request_first_kb"]
    print(
        f"| peak RSS | {r['rss_first_mb']:.1f} MB | {r['rss_last_mb']:.1f} MB | {rss_ratio:.2f} |"
    )
    print(
        f"| largest request | {r['request_first_kb']:.1f} KB | {r['request_last_kb']:.1f} KB "
        f"| {req_ratio:.2f} |"
    )
    print(
        f"\n{r['steps']:.0f} steps, {r['compactions']:.0f} compactions, rollout "
        f"{r['rollout_mb']:.1f} MB, {r['ms_per_step']:.1f} ms per step (model request + `true`)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
