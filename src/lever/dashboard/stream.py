"""Session events for the browser: the rollout, then what is appended to it, as SSE.

The rollout is the one source: the same lines `lever exec --json` prints, re-emitted through the
one serializer (`event_to_json`). Each SSE message carries the event's sequence number as its
`id`, so a reconnecting EventSource sends `Last-Event-ID` and gets only what it missed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from lever.protocol import event_from_json, event_to_json

#: Session ids are `YYYYmmddTHHMMSS-hex`; anything else is refused before it reaches a path.
SESSION_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")

POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


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


def encode_lines(lines: list[str], after: int) -> tuple[list[str], int]:
    """SSE messages for the events with a sequence number above `after`; the new `after`."""
    out: list[str] = []
    for line in lines:
        try:
            event = event_from_json(line)
        except ValueError:
            continue  # written by another lever version, or damaged: the rest still shows
        if event.seq <= after:
            continue
        after = event.seq
        out.append(sse_message(event.seq, event_to_json(event)))
    return out, after


async def follow(
    path: Path, after: int, disconnected: Callable[[], object], *, once: bool = False
) -> AsyncIterator[str]:
    """Every event of `path` after sequence `after`, then new ones as they are appended, until
    the client goes away (`disconnected()` is an awaitable saying so). `once`: stop at the end
    of what is written (for tests and `?follow=0`)."""
    tail = RolloutTail(path)
    idle = 0.0
    yield "retry: 1000\n\n"
    while True:
        messages, after = encode_lines(tail.read_new(), after)
        for message in messages:
            yield message
        if once:
            return
        if messages:
            idle = 0.0
        elif idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keepalive\n\n"
        if await disconnected():  # type: ignore[misc]
            return
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
