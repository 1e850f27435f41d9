"""Faults the fake model can play instead of finishing a stream (a turn's `fault` key).

- `"stall"`: the stream starts (up to its first text delta), then only SSE keep-alive comments
  come, every 100 ms, forever: the connection stays alive and busy but no event arrives.
- `"endless"`: the stream starts, then the same text delta is sent again and again, forever.

Both end only when the client hangs up or the server stops. They let tests show that lever's
idle timeout and output cap end a reply that never ends by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from lever.testing.fake_wire import split_pieces

FAULTS = ("stall", "endless")
KEEP_ALIVE = b": keep-alive\n\n"


def _first_delta(events: Sequence[bytes], text: str) -> int:
    """Index of the first event carrying the start of `text` (a text delta in any protocol)."""
    pieces = split_pieces(text)
    marker = json.dumps(pieces[0] if pieces else "")[1:-1].encode()
    for i, event in enumerate(events):
        if pieces and b"delta" in event and marker in event:
            return i
    raise ValueError("fake model: a `fault` turn needs a `text` to stream")


def play(
    fault: str,
    text: str,
    events: Sequence[bytes],
    write: Callable[[bytes], None],
    sleep: Callable[[float], bool],
) -> None:
    """Write the start of `events`, then the fault, until `write` fails or `sleep` says stop.

    `write` sends one chunk (raises OSError once the client is gone); `sleep(ms)` returns False
    when the server is stopping.
    """
    first = _first_delta(events, text)
    for event in events[: first + 1]:
        write(event)
    while True:
        if fault == "stall":
            if not sleep(100):
                return
            write(KEEP_ALIVE)
        else:
            write(events[first])
            if not sleep(0):
                return
