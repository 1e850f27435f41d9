"""Bounded fuzzing of the stream assemblers: the Chat Completions delta assembler and the
Anthropic event assembler, fed whole event streams of right and wrong shapes through the real
clients (an httpx mock transport). Each stream yields lever events or raises a `ModelError`,
never anything else. Also the apply_patch parser and the config loader."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lever.models.anthropic import AnthropicClient
from lever.models.base import MalformedResponseError, ModelError, ModelRequest
from lever.models.chat import ChatClient
from lever.models.http import HttpTransport

from .fuzzing import FUZZ, pieces

#: Values of every JSON type, the right one for a field among them.
ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
TEXT = st.text(max_size=8) | ANY


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | ANY


CHAT_CALL = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(0, 2)),
        "id": TEXT,
        "function": _maybe(
            st.fixed_dictionaries({}, optional={"name": TEXT, "arguments": TEXT | ANY})
        ),
    },
)
CHAT_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "content": TEXT,
        "reasoning_content": TEXT,
        "tool_calls": _maybe(st.lists(_maybe(CHAT_CALL), max_size=2)),
    },
)
CHAT_CHUNK = st.fixed_dictionaries(
    {},
    optional={
        "choices": _maybe(
            st.lists(
                _maybe(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "delta": _maybe(CHAT_DELTA),
                            "finish_reason": _maybe(st.sampled_from(["stop", "length"])),
                        },
                    )
                ),
                max_size=2,
            )
        ),
        "usage": _maybe(st.fixed_dictionaries({}, optional={"prompt_tokens": ANY})),
        "error": st.just({"message": "overloaded"}),
    },
)

ANTHROPIC_EVENT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
                "ping",
            ]
        )
        | ANY
    },
    optional={
        "index": _maybe(st.integers(0, 2)),
        "message": _maybe(st.fixed_dictionaries({}, optional={"usage": ANY})),
        "content_block": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(["text", "thinking", "tool_use"]) | ANY,
                    "id": TEXT,
                    "name": TEXT,
                    "text": TEXT,
                    "input": ANY,
                },
            )
        ),
        "delta": _maybe(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(
                        ["text_delta", "thinking_delta", "input_json_delta", "signature_delta"]
                    )
                    | ANY
                },
                optional={
                    "text": TEXT,
                    "thinking": TEXT,
                    "partial_json": TEXT,
                    "signature": TEXT,
                    "stop_reason": TEXT,
                },
            )
        ),
        "usage": _maybe(
            st.fixed_dictionaries({}, optional={"input_tokens": ANY, "output_tokens": ANY})
        ),
    },
)

REQUEST = ModelRequest(instructions="fuzz", tools=[], items=[], model="m")


def _sse(events: list[Any], done: bool) -> bytes:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


async def _consume(client: Any) -> list[Any]:
    try:
        return [event async for event in client.stream(REQUEST)]
    finally:
        await client.aclose()


def _transport(body: bytes) -> HttpTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpTransport("http://fuzz.invalid/v1", client=mock)


def _reads_or_model_error(client: Any) -> None:
    with contextlib.suppress(ModelError):
        asyncio.run(_consume(client))


@FUZZ
@given(st.lists(CHAT_CHUNK, max_size=5), st.booleans())
def test_chat_delta_assembler_yields_events_or_a_model_error(chunks, done) -> None:
    _reads_or_model_error(ChatClient(_transport(_sse(chunks, done))))


@FUZZ
@given(st.lists(ANTHROPIC_EVENT, max_size=6))
def test_anthropic_event_assembler_yields_events_or_a_model_error(events) -> None:
    _reads_or_model_error(AnthropicClient(_transport(_sse(events, False))))


PATCH_LINES = pieces(
    [
        "*** Begin Patch",
        "*** End Patch",
        "*** Add File: a.txt",
        "*** Update File: a.txt",
        "*** Delete File: a.txt",
        "*** Move to: b.txt",
        "*** End of File",
        "@@",
        "@@ def f():",
        "+added",
        "-removed",
        " context",
        "",
    ],
    noise=10,
    most=12,
    sep="\n",
)


@FUZZ
@given(PATCH_LINES)
def test_apply_patch_parser_parses_or_raises_its_error(text: str) -> None:
    from lever.tools.patch_parser import PatchParseError, parse_patch

    with contextlib.suppress(PatchParseError):
        parse_patch(text)


TOML_PIECES = pieces(
    [
        "model = 'm'\n",
        "[retry]\n",
        "max_retries = 3\n",
        "[limits]\n",
        "max_seconds = -1\n",
        "stream_idle_timeout = 0\n",
        "[command_limits]\n",
        "max_processes = 'x'\n",
        "[profiles.a]\n",
        "profile = 'a'\n",
        "[[x]]\n",
        "= \n",
        "[",
        '"',
        "a = [" * 50,
    ],
    noise=6,
    most=8,
)


@FUZZ
@given(TOML_PIECES)
def test_config_loader_loads_or_raises_a_config_error(tmp_path, monkeypatch, text: str) -> None:
    from lever.config.loader import load_config
    from lever.config.providers import ConfigError

    monkeypatch.setenv("LEVER_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ConfigError):
        load_config(tmp_path, [], None, warn=lambda _: None)


# -- crashes the fuzzing found, as regression tests ------------------------------------------

FOUND = {
    "chat: a choice that is null": (ChatClient, [{"choices": [None]}]),
    "chat: content that is a number": (
        ChatClient,
        [{"choices": [{"delta": {"content": 5}, "finish_reason": "stop"}]}],
    ),
    "chat: a tool call name that is an object": (
        ChatClient,
        [{"choices": [{"delta": {"tool_calls": [{"function": {"name": [1]}}]}}]}],
    ),
    "anthropic: a block index that is a list": (
        AnthropicClient,
        [{"type": "content_block_start", "index": []}],
    ),
    "anthropic: a delta that is a list": (
        AnthropicClient,
        [{"type": "content_block_delta", "index": 0, "delta": [1]}],
    ),
}


@pytest.mark.parametrize("name", list(FOUND))
def test_found_by_fuzzing_is_a_malformed_reply(name) -> None:
    # Before: AttributeError / TypeError escaped the client and ended the turn as an internal
    # error instead of a malformed reply (retried, then said clearly).
    client_type, events = FOUND[name]
    with pytest.raises(MalformedResponseError, match="model stream sent a malformed event"):
        asyncio.run(_consume(client_type(_transport(_sse(events, True)))))
