"""Bounded fuzzing of the readers of outside input: whatever arrives, each either reads it or
raises its one documented error type — never anything else (no RecursionError, no KeyError,
no UnicodeDecodeError)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
from hypothesis import given
from hypothesis import strategies as st

from lever import safe_json
from lever.models.base import ModelError
from lever.models.sse import DONE, iter_sse
from lever.protocol import SessionEnded, TurnFinished, event_to_json
from lever.server.dispatch import Dispatcher, LineWriter
from lever.store.rollout import RolloutDamaged, read_rollout

from .fuzzing import FUZZ, pieces

#: Pieces that make JSON-shaped text likely: structure, strings, escapes, depth.
JSONISH = pieces(
    [
        "{",
        "}",
        "[",
        "]",
        '"',
        "\\",
        ":",
        ",",
        "1",
        "-",
        "e",
        "null",
        "true",
        '"a"',
        " ",
        "[" * 300,
        '{"k":' * 300,
        '\\"',
        "\\u00e9",
        "\ud800",
        "é",
    ],
    noise=5,
    most=40,
)


@FUZZ
@given(JSONISH)
def test_safe_json_reads_or_raises_json_decode_error(text: str) -> None:
    try:
        value = safe_json.loads(text)
    except json.JSONDecodeError:
        return
    assert value == json.loads(text)


@FUZZ
@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_safe_json_agrees_with_json_on_real_documents(value: object) -> None:
    text = json.dumps(value)
    assert safe_json.loads(text) == json.loads(text)


SSE_PIECES = pieces(
    [
        "data: ",
        "event: x\n",
        "\n",
        "\r\n",
        ": ping\n",
        "id: 1\n",
        "retry: 5\n",
        "[DONE]",
        '{"type": "a"}',
        "{",
        "[" * 400,
        "data:[1]\n\n",
        "data: {}\n\n",
        "\xff",
        "é",
    ],
    noise=8,
    most=30,
)


async def _read_sse(body: bytes, content_type: str) -> list[object]:
    response = httpx.Response(200, headers={"content-type": content_type}, content=body)
    return [data async for _, data in iter_sse(response, max_bytes=4096)]


@FUZZ
@given(SSE_PIECES, st.sampled_from(["text/event-stream", "application/json"]))
def test_sse_reader_yields_objects_or_raises_a_model_error(text: str, content_type: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    try:
        items = asyncio.run(_read_sse(body, content_type))
    except ModelError:
        return
    assert all(isinstance(item, dict) or item is DONE for item in items)


async def _dispatch(lines: list[bytes]) -> list[dict[str, object]]:
    out = io.StringIO()
    dispatcher = Dispatcher(LineWriter(out), handlers={}, error_codes={})
    tasks = [dispatcher.handle_line(line) for line in lines]
    await asyncio.gather(*(t for t in tasks if t is not None))
    return [json.loads(line) for line in out.getvalue().splitlines()]


@FUZZ
@given(
    st.lists(
        JSONISH.map(lambda s: s.encode("utf-8", "surrogatepass")) | st.binary(max_size=40),
        max_size=5,
    )
)
def test_json_rpc_reader_answers_every_line_with_json(lines: list[bytes]) -> None:
    answers = asyncio.run(_dispatch([line for line in lines if line.strip()]))
    for answer in answers:
        assert answer["jsonrpc"] == "2.0" and "error" in answer  # no handlers: only errors


GOOD = [
    event_to_json(TurnFinished(seq=1, ts=1.0, reason="done")),
    event_to_json(SessionEnded(seq=2, ts=2.0)),
]
LINES = (
    st.sampled_from(GOOD)
    | JSONISH
    | st.binary(max_size=30).map(lambda b: b.decode("utf-8", "replace"))
)


@FUZZ
@given(st.lists(LINES, max_size=6), st.booleans())
def test_rollout_reader_reads_or_says_where_it_is_damaged(
    tmp_path_factory, lines: list[str], torn: bool
) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "rollout-x.jsonl"
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    path.write_text(text + ("" if torn else "\n"), encoding="utf-8", errors="surrogatepass")
    try:
        events = list(read_rollout(path))
    except RolloutDamaged as e:
        assert "is damaged" in str(e)
        return
    assert all(e.type in ("turn_finished", "session_ended") for e in events)
