"""Many sessions streaming to several open dashboard pages: nothing dropped, nothing doubled.

    uv run python bench/dashboard_stream.py [--sessions 50] [--pages 5] [--seconds 60] [--rate 2]
        [--idle-seconds 30]

Part of `bench/run` (10 s with --quick); exits 1 when an event was dropped or duplicated.

Starts `lever serve --port 0` on a temporary LEVER_HOME, then appends events to `--sessions`
rollouts (`--rate` events per second each, through lever's RolloutWriter) while `--pages`
clients each follow every session's event stream over real HTTP (sessions x pages SSE
connections). At the end every client must have received every sequence number exactly once.
Before writing, every stream stays connected and idle for `--idle-seconds`: the server's CPU
then is the cost of watching idle sessions. Prints one JSON line: events written, delivered,
dropped, duplicated, latency from append to receipt (p50/p95/max ms; separately for the first
event after the idle phase), the server's CPU while idle (ms per idle session per minute, a
session followed by every page) and while streaming, and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lever.protocol import AssistantMessage, ItemAdded, SessionStarted
from lever.store.rollout import RolloutWriter


def start_server(home: Path) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, "LEVER_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "lever.cli.main", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().split(": ", 1)[1].strip()
    base, token = url.split("/?token=")
    return process, base, token


async def write(writers: list[RolloutWriter], seconds: float, rate: float) -> int:
    """Append one event per session per tick; returns the last sequence number written. The
    first tick is spread over half a second (longer than the server's slowest check of an idle
    rollout), so the first events after the idle phase sample every point of its cycle."""
    seq, deadline = 1, time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        for writer in writers:
            writer.append(ItemAdded(seq=seq, item=AssistantMessage(text=f"event {seq}")))
            if seq == 2:
                await asyncio.sleep(0.5 / len(writers))
        await asyncio.sleep(1 / rate)
    return seq


async def follow(
    client: httpx.AsyncClient, sid: str, last: list[int], got: list[int], lat: list[float],
    first: list[float],
) -> None:  # fmt: skip
    async with client.stream("GET", f"/api/sessions/{sid}/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                got.append(event["seq"])
                if event["seq"] > 1:  # the first was written before the server started
                    lat.append((time.time() - event["ts"]) * 1000)
                if event["seq"] == 2:  # the first after the idle phase
                    first.append(lat[-1])
                if last and event["seq"] >= last[0]:
                    return


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def server_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def server_rss(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return round(int(hwm) / 1024, 1)


async def run(args: argparse.Namespace, home: Path) -> dict[str, object]:
    ids = [f"20260101T000000-{n:06x}" for n in range(args.sessions)]
    writers = [RolloutWriter.create(home, sid) for sid in ids]
    for sid, writer in zip(ids, writers, strict=True):
        writer.append(SessionStarted(seq=1, session_id=sid, cwd="/", model="m", provider="p"))
    process, base, token = start_server(home)
    last: list[int] = []
    received: dict[tuple[int, str], list[int]] = {}
    latencies: list[float] = []
    first: list[float] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        clients = [
            httpx.AsyncClient(base_url=base, headers=headers, timeout=None, limits=limits)
            for _ in range(args.pages)
        ]
        followers = []
        for page, client in enumerate(clients):
            for sid in ids:
                got = received.setdefault((page, sid), [])
                followers.append(
                    asyncio.create_task(follow(client, sid, last, got, latencies, first))
                )
        # Every stream connected (each has the event written before the server started), so
        # the latency measures live delivery, not the replay of a late connection's backlog.
        began = time.monotonic()
        while sum(bool(got) for got in received.values()) < len(received):
            if time.monotonic() - began > 120:
                raise RuntimeError("the streams did not all connect within 120 s")
            await asyncio.sleep(0.1)
        connect_s = round(time.monotonic() - began, 2)
        idle_from = server_cpu(process.pid)
        await asyncio.sleep(args.idle_seconds)
        idle_cpu = server_cpu(process.pid) - idle_from
        last.append(await write(writers, args.seconds, args.rate))
        for writer in writers:  # one more line so every follower sees `last` and returns
            writer.append(ItemAdded(seq=last[0] + 1, item=AssistantMessage(text="end")))
        await asyncio.wait_for(asyncio.gather(*followers), 60)
        cpu, rss = server_cpu(process.pid), server_rss(process.pid)
        for client in clients:
            await client.aclose()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
        for writer in writers:
            writer.close()
    expected = list(range(1, last[0] + 1))
    dropped = sum(len(set(expected) - set(got)) for got in received.values())
    doubled = sum(len(got) - len(set(got)) for got in received.values())
    return {
        "sessions": args.sessions,
        "pages": args.pages,
        "connections": args.sessions * args.pages,
        "seconds": args.seconds,
        "events_written": args.sessions * last[0],
        "events_delivered": sum(len([s for s in got if s <= last[0]]) for got in received.values()),
        "dropped": dropped,
        "duplicated": doubled,
        "latency_ms_p50": percentile(latencies, 0.5),
        "latency_ms_p95": percentile(latencies, 0.95),
        "latency_ms_max": percentile(latencies, 1.0),
        "latency_ms_first_after_idle_p50": percentile(first, 0.5),
        "latency_ms_first_after_idle_max": percentile(first, 1.0),
        "idle_seconds": args.idle_seconds,
        "idle_cpu_ms_per_session_per_min": round(
            idle_cpu * 1000 / args.sessions / (args.idle_seconds / 60), 2
        )
        if args.idle_seconds
        else None,
        "server_cpu_s_idle": round(idle_cpu, 2),
        "server_cpu_s_streaming": round(cpu - idle_from - idle_cpu, 2),
        "server_cpu_s": round(cpu, 2),
        "server_peak_rss_mb": rss,
        "connect_s": connect_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=2, help="events per second per session")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=30,
        help="how long every stream stays connected with nothing written, before writing",
    )
    parser.add_argument(
        "--check-exit",
        type=int,
        default=1,
        help="exit status when an event was dropped or duplicated (bench/run passes 0: the "
        "figures carry the counts)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    result["load_average"] = round(os.getloadavg()[0], 1)
    # The clients (this process) parse every message: at high load they, not the server, lag.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["client_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    print(json.dumps(result))
    return 0 if result["dropped"] == 0 and result["duplicated"] == 0 else args.check_exit


if __name__ == "__main__":
    sys.exit(main())
