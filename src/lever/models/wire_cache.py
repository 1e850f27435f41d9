"""Request bodies encoded once per history item: a request costs a join, not a re-encoding.

A session's history only grows between compactions, and every request sends all of it. The
clients build the small head of the body (model, instructions, tools, options) each time, but
each history piece (a message, an input item) is encoded to JSON once and kept, keyed on the
identity of the items it comes from. The bytes are exactly `json.dumps(build_body(request))`
in httpx's form (compact separators, UTF-8 unescaped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from lever.protocol.items import Item

#: A group of history items that becomes one wire piece (one message, one input item).
Group = tuple[Item, ...]


def dumps(value: Any) -> bytes:
    """JSON as httpx sends `json=`: compact, UTF-8, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class PieceCache:
    """Encoded pieces of the last request's history, keyed on the identity of their items."""

    def __init__(self) -> None:
        # The items are kept alongside their bytes, so their ids cannot be reused meanwhile.
        self._pieces: dict[tuple[int, ...], tuple[Group, bytes]] = {}

    def encode(self, groups: Sequence[Group], render: Callable[[Group], Any]) -> list[bytes]:
        kept: dict[tuple[int, ...], tuple[Group, bytes]] = {}
        out: list[bytes] = []
        for group in groups:
            key = tuple(map(id, group))
            hit = self._pieces.get(key) or kept.get(key)
            if hit is None:
                hit = (group, dumps(render(group)))
            kept[key] = hit
            out.append(hit[1])
        self._pieces = kept  # only what this request used: memory follows the history
        return out


def join_body(head: dict[str, Any], key: str, pieces: Sequence[bytes]) -> bytes:
    """`head` with `key: [pieces…]` appended as its last field, as one JSON object."""
    encoded = dumps(head)
    array = b"[" + b",".join(pieces) + b"]"
    if encoded == b"{}":
        return b"{" + dumps(key) + b":" + array + b"}"
    return encoded[:-1] + b"," + dumps(key) + b":" + array + b"}"
