"""Session events for the browser: the rollout, then what is appended to it, as SSE.

The rollout is the one source: the same lines `lever exec --json` prints, re-emitted through the
one serializer (`event_to_json`). Each SSE message carries the event's sequence number as its
`id`, so a reconnecting EventSource sends `Last-Event-ID` and gets only what it missed.

Watching is shared and cheap when nothing happens: one `Watch` per rollout file, whatever the
number of pages following it, checks the file's size, mtime and inode (`os.stat`), reads only
when they change, parses what was appended once and hands the messages to every follower. The
check runs every 50 ms for 2 s after a change (a session at work writes again soon), then backs
off to every 250 ms while the file stays idle: a busy session's events arrive within ~50 ms, one
after a long pause within a quarter of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from lever.protocol import event_from_json, event_to_json

#: Session ids are `YYYYmmddTHHMMSS-hex`; anything else is refused before it reaches a path.
SESSION_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")

POLL_MIN_SECONDS = 0.05
#: How long after a change the check stays at its fastest before backing off.
FAST_SECONDS = 2.0
POLL_MAX_SECONDS = 0.25
BACKOFF = 1.5
#: How often a waiting follower asks whether its client is gone. Rarely: under uvicorn,
#: Starlette already cancels the stream of a client that disconnects, and the watches wake
#: their followers when the server stops.
CHECK_SECONDS = 5.0
KEEPALIVE_SECONDS = 15.0

Stamp = tuple[int, int, int] | None
Messages = list[tuple[int, str]]
#: What a watch hands its followers when the server stops: look at `disconnected()` now.
STOP: Messages = []


def sse_message(seq: int, data: str) -> str:
    return f"id: {seq}\nevent: lever\ndata: {data}\n\n"


class RolloutTail:
    """Reads complete lines appended to a rollout since the last call (a torn tail waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""

    def read_new(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        return [line.decode("utf-8", errors="replace") for line in lines if line.strip()]


def encode(lines: list[str]) -> Messages:
    """(sequence number, SSE message) for each line holding an event."""
    out: Messages = []
    for line in lines:
        try:
            event = event_from_json(line)
        except ValueError:
            continue  # written by another lever version, or damaged: the rest still shows
        out.append((event.seq, sse_message(event.seq, event_to_json(event))))
    return out


def encode_lines(lines: list[str], after: int) -> tuple[list[str], int]:
    """SSE messages for the events with a sequence number above `after`; the new `after`."""
    out: list[str] = []
    for seq, message in encode(lines):
        if seq > after:
            after = seq
            out.append(message)
    return out, after


def stamp(path: Path) -> Stamp:
    """What changes when a rollout is appended to (or replaced); None while it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class Watch:
    """One rollout's poller, shared by every follower: stat, and read only on a change."""

    def __init__(self, path: Path, stopping: Callable[[], bool] = lambda: False) -> None:
        self.path = path
        self.stopping = stopping
        self.tail = RolloutTail(path)
        self.stamp: Stamp = None
        self.queues: set[asyncio.Queue[Messages]] = set()
        self.task: asyncio.Task[None] | None = None

    def join(self) -> tuple[list[str], asyncio.Queue[Messages]]:
        """Everything written so far, and the queue that gets what is appended after. The
        stamp is taken before the read, so a write racing it is seen (and read) again at the
        next check: a follower may get an event twice, and drops it by its sequence number."""
        before = stamp(self.path)
        tail = RolloutTail(self.path)
        lines = tail.read_new()
        if not self.queues:  # the first follower: the watch goes on from where it read
            self.tail, self.stamp = tail, before
        queue: asyncio.Queue[Messages] = asyncio.Queue()
        self.queues.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._poll())
        return lines, queue

    def leave(self, queue: asyncio.Queue[Messages]) -> None:
        self.queues.discard(queue)
        if not self.queues and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _poll(self) -> None:
        interval, changed = POLL_MIN_SECONDS, time.monotonic()
        while self.queues:
            await asyncio.sleep(interval)
            if self.stopping():
                for queue in self.queues:
                    queue.put_nowait(STOP)
                return
            now = stamp(self.path)
            if now == self.stamp:
                if time.monotonic() - changed >= FAST_SECONDS:
                    interval = min(POLL_MAX_SECONDS, interval * BACKOFF)
                continue
            self.stamp, changed = now, time.monotonic()
            interval = POLL_MIN_SECONDS
            try:
                messages = encode(self.tail.read_new())
            except OSError:
                continue  # unreadable for now: the next change tries again
            if messages:
                for queue in self.queues:
                    queue.put_nowait(messages)


class StreamHub:
    """The watches of one server, by rollout path (created and used in its event loop).
    `stopping()` says the server is shutting down: the watches then wake every follower."""

    def __init__(self, stopping: Callable[[], bool] = lambda: False) -> None:
        self.stopping = stopping
        self.watches: dict[Path, Watch] = {}

    def join(self, path: Path) -> tuple[Watch, list[str], asyncio.Queue[Messages]]:
        watch = self.watches.get(path)
        if watch is None:
            watch = self.watches[path] = Watch(path, self.stopping)
        lines, queue = watch.join()
        return watch, lines, queue

    def leave(self, watch: Watch, queue: asyncio.Queue[Messages]) -> None:
        watch.leave(queue)
        if not watch.queues and self.watches.get(watch.path) is watch:
            del self.watches[watch.path]


async def follow(
    path: Path,
    after: int,
    disconnected: Callable[[], object],
    *,
    once: bool = False,
    hub: StreamHub | None = None,
) -> AsyncIterator[str]:
    """Every event of `path` after sequence `after`, then new ones as they are appended, until
    the client goes away (`disconnected()` is an awaitable saying so). `once`: stop at the end
    of what is written (for tests and `?follow=0`). Followers of one `hub` share its watches."""
    yield "retry: 1000\n\n"
    if once:
        for message in encode_lines(RolloutTail(path).read_new(), after)[0]:
            yield message
        return
    hub = hub if hub is not None else StreamHub()
    watch, lines, queue = hub.join(path)
    try:
        messages, after = encode_lines(lines, after)
        for message in messages:
            yield message
        checked = idle = time.monotonic()
        while True:
            batch: Messages = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHECK_SECONDS):
                    batch = await queue.get()
            if batch is STOP:
                checked = 0.0
            while not queue.empty():
                batch = batch + queue.get_nowait()
            now = time.monotonic()
            for seq, message in batch:
                if seq > after:
                    after, idle = seq, now
                    yield message
            if now - idle >= KEEPALIVE_SECONDS:
                idle = now
                yield ": keepalive\n\n"
            if now - checked >= CHECK_SECONDS:
                checked = now
                if await disconnected():  # type: ignore[misc]
                    return
    finally:
        hub.leave(watch, queue)
