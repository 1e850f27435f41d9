"""JSON from outside lever, read with a depth and a size limit.

`json.loads` recurses once per nesting level, so a model, a provider or a JSON-RPC client that
sends `[[[[…]]]]` 5,000 deep raises `RecursionError` — not a `ValueError` — out of every parser
that trusts it (a traceback, a dead app-server). `loads` here first measures the nesting with a
linear scan of the brackets outside strings, without recursing, and refuses what is too deep or
too large with `JSONLimitError`. That is a `json.JSONDecodeError` (so a `ValueError`): every
`except json.JSONDecodeError` / `except ValueError` that already handles broken JSON handles the
limits too, with a message that says which limit was hit.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

#: Deeper than any real tool call, SSE event or JSON-RPC message, and far below the depth at
#: which the C parser would run out of Python stack inside an asyncio task.
MAX_DEPTH = 200
#: 64 MiB: larger than any single payload lever expects (a big apply_patch is a few MiB).
MAX_BYTES = 64 * 1024 * 1024

#: A complete JSON string (escapes included); what it holds is not structure.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
#: +1 for an opening bracket, -1 for a closing one, indexed by byte value.
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class JSONLimitError(json.JSONDecodeError):
    """The text is nested deeper, or is larger, than the reader accepts."""

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        super().__init__(msg, doc, pos)
        self.doc = ""  # do not keep a 64 MiB document alive through the exception


def _as_bytes(text: str | bytes | bytearray) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    return bytes(text)


def nesting_depth(text: str | bytes | bytearray, limit: int | None = None) -> tuple[int, int]:
    """(deepest nesting, offset where `limit` was first passed or -1), strings not counted.

    Linear and non-recursive. Unbalanced or unterminated input gives a best-effort answer: the
    parser reports it afterwards as the syntax error it is.
    """
    data = _as_bytes(text)
    brackets = data.count(b"[") + data.count(b"{")
    if brackets <= (limit or 0):
        return brackets, -1  # it cannot be deeper than it has brackets
    if b'"' in data:
        data = _STRING.sub(b'""', data)
    only = _NOT_BRACKET.sub(b"", data)
    if not only:
        return 0, -1
    # Running depth after each bracket, in C (map/accumulate/max): no Python loop per byte. An
    # unmatched closer makes it negative; the parser fails there, before going any deeper.
    deepest = max(0, max(accumulate(map(_STEP.__getitem__, only))))
    if limit is None or deepest <= limit:
        return deepest, -1
    return deepest, _where_deeper(data, limit)


def _where_deeper(data: bytes, limit: int) -> int:
    """Offset in `data` of the bracket that first goes past `limit` (only for the error)."""
    depth = 0
    for match in _BRACKETS.finditer(data):
        depth += _STEP[data[match.start()]]
        if depth > limit:
            return match.start()
    return 0


def check(
    text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES
) -> None:
    """Raise `JSONLimitError` if `text` is larger or deeper than allowed."""
    doc = text if isinstance(text, str) else ""
    if len(text) > max_bytes:
        raise JSONLimitError(
            f"JSON text of {len(text)} bytes is over the {max_bytes}-byte limit", doc, 0
        )
    _, where = nesting_depth(text, max_depth)
    if where >= 0:
        # `where` counts bytes of the string-stripped text: a position to show, not to index by.
        pos = min(where, len(doc))
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels", doc, pos)


def loads(
    text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES
) -> Any:
    """`json.loads` with limits: `JSONLimitError` (a `json.JSONDecodeError`) when over one."""
    check(text, max_depth=max_depth, max_bytes=max_bytes)
    try:
        return json.loads(text)
    except RecursionError as exc:  # a deep stack at the call site; the limit is the fix
        raise JSONLimitError("JSON nested too deeply to read here", "", 0) from exc
