"""Timed soak: one long-lived `lever app-server` running several scripted sessions at once,
half of them compacting, for N minutes; its RSS, open fds, child processes and threads sampled
every few seconds.

    uv run python bench/soak.py --minutes 30 [--sessions 4] [--every 5]

Each session runs turns of a few steps (a model request and a `echo` command through the
sandbox), is closed after `--turns` turns and replaced by a new one, so sessions keep starting
and ending for the whole run. The compacting ones set `compact_at` low enough to compact every
few turns. The fake model runs in its own process and keeps only its last requests. Prints a
Markdown table: each measure at the start (the largest sample of the first tenth of the run,
after a warm-up) and at the end (the largest of the last tenth) and their ratio; then events,
turns, sessions and compactions per second, and the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lever.testing.fake_model import FakeModelServer

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class _ForgetfulFake(FakeModelServer):
    """The fake model of a long run: an answer for every request, only the last ones kept."""

    def _record(self, request: Any) -> None:
        with self._lock:
            self._requests.append(request)
            del self._requests[:-200]


def _answer_factory() -> Any:
    counter = itertools.count()
    words = " ".join(f"word{i}" for i in range(300))  # ~500 tokens: the history grows

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        n = next(counter)
        if n % 4 == 3:
            return {"text": f"Turn done. {words}"}
        # The text doubles as the hand-off summary when a compaction asks for one.
        call = {"name": "shell", "arguments": {"command": ["echo", f"step {n}"]}}
        return {"text": f"Step {n}: next.", "tool_calls": [call]}

    return answer


def serve() -> int:
    """`--serve`: run the fake model until killed, its base URL on stdout."""
    fake = _ForgetfulFake(responder=_answer_factory(), check_pairing=False)
    fake.start()
    print(fake.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    return 0


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def sample(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
        "children": len(tree(pid)) - 1,
    }


class Client:
    """JSON-RPC over the app-server's stdio: requests by id, events to the session's waiters."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.finished: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.events = self.compactions = self.errors = 0

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            message = json.loads(line)
            if "id" in message and message["id"] in self.pending:
                self.pending.pop(message["id"]).set_result(message)
            elif message.get("method") == "event":
                self._event(message["params"])

    def _event(self, params: dict[str, Any]) -> None:
        self.events += 1
        event = params["event"]
        kind = event.get("type")
        if kind == "compaction":
            self.compactions += 1
        elif kind == "error" and not event.get("retrying"):
            self.errors += 1
        elif kind == "turn_finished":
            self.finished.setdefault(params["session_id"], asyncio.Queue()).put_nowait(event)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        line = {"jsonrpc": "2.0", "id": number, "method": method, "params": params}
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(line) + "\n").encode())
        await self.process.stdin.drain()
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply["result"])


async def worker(client: Client, base_url: str, folder: Path, compact: bool, end: float) -> int:
    """Sessions one after another until `end`; returns the turns run."""
    folder.mkdir()
    config = ["compact_at=3000"] if compact else []
    turns = 0
    while time.monotonic() < end:
        opened = await client.call(
            "session/new", cwd=str(folder), base_url=base_url, model="m",
            provider="openai-responses", approval="never", config=config,
        )  # fmt: skip
        sid = opened["session_id"]
        queue = client.finished.setdefault(sid, asyncio.Queue())
        for _ in range(10):
            await client.call("turn/send", session_id=sid, text="Run the next steps.")
            await queue.get()
            turns += 1
            if time.monotonic() >= end:
                break
        await client.call("session/close", session_id=sid)
        client.finished.pop(sid, None)
    return turns


async def sampler(pid: int, end: float, every: float, out: list[dict[str, float]]) -> None:
    started = time.monotonic()
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            out.append({"t": time.monotonic() - started, **sample(pid)})
        await asyncio.sleep(every)


def _lever() -> list[str]:
    found = shutil.which("lever")
    return [found] if found else [sys.executable, "-m", "lever"]


async def soak(minutes: float, sessions: int, every: float, tmp: Path) -> dict[str, Any]:
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    assert fake.stdout is not None
    base_url = fake.stdout.readline().strip()
    home = tmp / "home"
    home.mkdir()
    env = {**os.environ, "LEVER_HOME": str(home)}
    process = await asyncio.create_subprocess_exec(
        *_lever(), "app-server", stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        limit=64 * 1024 * 1024,
    )  # fmt: skip
    client = Client(process)
    reader = asyncio.create_task(client.read())
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    end = started + minutes * 60
    try:
        await client.call("initialize", client_name="soak", protocol_version="1")
        watch = asyncio.create_task(sampler(process.pid, end, every, samples))
        turns = await asyncio.gather(
            *(worker(client, base_url, tmp / f"w{i}", i % 2 == 0, end) for i in range(sessions))
        )
        await watch
        elapsed = time.monotonic() - started
        assert process.stdin is not None
        process.stdin.close()  # the app-server shuts down at the end of its input
        await asyncio.wait_for(process.wait(), 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()
        reader.cancel()
        fake.kill()
        fake.wait()
    rollouts = list((home / "sessions").rglob("rollout-*.jsonl"))
    return {
        "minutes": elapsed / 60,
        "samples": samples,
        "events": client.events,
        "turns": sum(turns),
        "sessions": len(rollouts),
        "compactions": client.compactions,
        "errors": client.errors,
        "elapsed": elapsed,
        "session_mb": sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) / 2**20,
    }


def _ratio(first: float, last: float) -> str:
    return f"{last / first:.2f}" if first else "—"


def table(result: dict[str, Any], load: tuple[float, float, float]) -> str:
    """Each measure's median and largest sample in the first and the last tenth of the run.

    fds, threads and child processes count what is in flight at the sample (a command, its
    watcher thread, its pipe): their largest sample is noisy, the median is their level."""
    samples = result["samples"]
    tenth = max(1, len(samples) // 10)
    # The first sample of all is before any session: the start is taken after a warm-up.
    head, tail = samples[1 : tenth + 1] or samples[:1], samples[-tenth:]
    lines = [
        "| measure | start (median) | end (median) | ratio | start (max) | end (max) | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in (
        ("rss_mb", "RSS (MB)"),
        ("fds", "open fds"),
        ("threads", "threads"),
        ("children", "child processes"),
    ):
        first, last = (
            statistics.median(s[key] for s in head),
            statistics.median(s[key] for s in tail),
        )
        top, end_top = max(s[key] for s in head), max(s[key] for s in tail)
        lines.append(
            f"| {label} | {first:.1f} | {last:.1f} | {_ratio(first, last)} "
            f"| {top:.1f} | {end_top:.1f} | {_ratio(top, end_top)} |"
        )
    seconds = result["elapsed"]
    lines.append(
        f"\n{result['minutes']:.1f} min, {len(samples)} samples; {result['events'] / seconds:.0f} "
        f"events/s, {result['turns']} turns, {result['sessions']} sessions, "
        f"{result['compactions']} compactions, {result['errors']} errors; session files "
        f"{result['session_mb']:.1f} MB; load average at the end {load[0]:.1f} / {load[1]:.1f} "
        f"/ {load[2]:.1f} on {os.cpu_count()} cores"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=4, help="sessions at once (half compact)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--json", metavar="FILE", help="also write every sample to FILE")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--table", metavar="FILE", help="print the table of a --json FILE again")
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.table:
        saved = json.loads(Path(args.table).read_text())
        print(table(saved, tuple(saved["load"])))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(soak(args.minutes, args.sessions, args.every, Path(tmp)))
    result["load"] = os.getloadavg()
    print(table(result, result["load"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
