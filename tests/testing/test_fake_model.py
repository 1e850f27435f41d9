"""The fake model server, checked with the official OpenAI and Anthropic SDKs as real clients.

If the SDKs parse what the server sends into the values the script asked for, lever's own clients
are being tested against the real wire protocols, not against a convenient approximation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from lever.testing.fake_model import FakeModelServer

ARGS = {"command": ["ls", "-la"], "workdir": "src"}
TEXT = "The tests pass now; I fixed the off-by-one in parse_range."
REASONING = "Need to look at the failing test first, then the parser."
USAGE = {"input_tokens": 1200, "output_tokens": 85, "cached_input_tokens": 1024}

FULL_TURN: dict[str, Any] = {
    "reasoning": REASONING,
    "text": TEXT,
    "tool_calls": [
        {"name": "shell", "arguments": ARGS},
        {"name": "apply_patch", "arguments": {"patch": "*** Begin Patch"}, "call_id": "mine_7"},
    ],
    "usage": USAGE,
}


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer([FULL_TURN, {"text": "second"}]) as srv:
        yield srv


def openai_client(srv: FakeModelServer, key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key=key, max_retries=0, timeout=10)


def anthropic_client(srv: FakeModelServer, key: str = "sk-ant-test") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.root_url, api_key=key, max_retries=0, timeout=10)


USER = [{"role": "user", "content": "fix the tests"}]


# --------------------------------------------------------------------------- Responses API


def test_responses_stream_events(server: FakeModelServer) -> None:
    client = openai_client(server)
    stream = client.responses.create(
        model="gpt-test", input="fix it", stream=True, include=["reasoning.encrypted_content"]
    )
    events = list(stream)

    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for needed in (
        "response.reasoning_summary_text.delta",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.done",
    ):
        assert needed in types

    text_deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(text_deltas) >= 2 and "".join(text_deltas) == TEXT
    summary = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert "".join(summary) == REASONING

    # Arguments arrive in several pieces per call; joined per item they are the scripted JSON.
    arg_pieces: dict[str, list[str]] = {}
    for e in events:
        if e.type == "response.function_call_arguments.delta":
            arg_pieces.setdefault(e.item_id, []).append(e.delta)
    assert all(len(p) >= 2 for p in arg_pieces.values()) and len(arg_pieces) == 2

    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [i.type for i in done] == ["reasoning", "message", "function_call", "function_call"]
    reasoning, message, call1, call2 = done
    assert reasoning.summary[0].type == "summary_text" and reasoning.summary[0].text == REASONING
    assert reasoning.encrypted_content  # asked for through `include`
    assert message.content[0].text == TEXT and message.status == "completed"
    assert (call1.name, call1.call_id) == ("shell", "call_1")
    assert call1.id.startswith("fc_") and call1.status == "completed"
    assert json.loads("".join(arg_pieces[call1.id])) == ARGS == json.loads(call1.arguments)
    assert (call2.name, call2.call_id) == ("apply_patch", "mine_7")

    final = events[-1].response
    assert final.status == "completed" and final.model == "gpt-test"
    assert final.usage.input_tokens == 1200
    assert final.usage.input_tokens_details.cached_tokens == 1024
    assert final.usage.output_tokens == 85
    assert final.usage.total_tokens == 1285
    assert final.usage.output_tokens_details.reasoning_tokens == len(REASONING) // 4


def test_responses_stream_helper_accumulates(server: FakeModelServer) -> None:
    # The SDK's own accumulator rebuilds the response from the deltas: it must agree.
    client = openai_client(server)
    with client.responses.stream(model="gpt-test", input="fix it") as stream:
        final = stream.get_final_response()
    assert final.output_text == TEXT
    calls = [i for i in final.output if i.type == "function_call"]
    assert [json.loads(c.arguments) for c in calls] == [ARGS, {"patch": "*** Begin Patch"}]
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content is None


def test_responses_non_streaming(server: FakeModelServer) -> None:
    client = openai_client(server)
    response = client.responses.create(model="gpt-test", input="fix it")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == TEXT
    assert response.output[0].type == "reasoning"
    assert response.output[0].summary[0].text == REASONING
    assert response.usage is not None and response.usage.input_tokens == 1200
    second = client.responses.create(model="gpt-test", input="again")
    assert second.output_text == "second"
    assert [i.type for i in second.output] == ["message"]


# --------------------------------------------------------------------------- Chat Completions


def test_chat_stream_chunks(server: FakeModelServer) -> None:
    client = openai_client(server)
    chunks = list(
        client.chat.completions.create(
            model="qwen-test",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    deltas = [c.choices[0].delta for c in with_choices]
    assert deltas[0].role == "assistant"
    content = [d.content for d in deltas if d.content]
    assert len(content) >= 2 and "".join(content) == TEXT
    reasoning = [getattr(d, "reasoning_content", None) for d in deltas]
    assert "".join(r for r in reasoning if r) == REASONING

    # Tool calls: id and name once, arguments in pieces keyed by index.
    calls: dict[int, dict[str, Any]] = {}
    for d in deltas:
        for tc in d.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "pieces": []})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["pieces"].append(tc.function.arguments)
    assert [(c["id"], c["name"]) for c in calls.values()] == [
        ("call_1", "shell"),
        ("mine_7", "apply_patch"),
    ]
    assert all(len(c["pieces"]) >= 2 for c in calls.values())
    assert json.loads("".join(calls[0]["pieces"])) == ARGS

    assert with_choices[-1].choices[0].finish_reason == "tool_calls"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == 1200
    assert usage_chunk.usage.completion_tokens == 85
    assert usage_chunk.usage.total_tokens == 1285
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens == 1024


def test_chat_stream_without_usage_and_helper(server: FakeModelServer) -> None:
    client = openai_client(server)
    with client.chat.completions.stream(model="qwen-test", messages=USER) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == TEXT
    assert [tc.function.name for tc in message.tool_calls or []] == ["shell", "apply_patch"]
    assert json.loads(message.tool_calls[0].function.arguments) == ARGS  # type: ignore[index]
    # Without stream_options.include_usage there is no usage chunk.
    chunks = list(client.chat.completions.create(model="q", messages=USER, stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "second"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_non_streaming(server: FakeModelServer) -> None:
    client = openai_client(server)
    completion = client.chat.completions.create(model="qwen-test", messages=USER)
    assert completion.object == "chat.completion" and completion.model == "qwen-test"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == TEXT
    assert getattr(choice.message, "reasoning_content", None) == REASONING
    tool_calls = choice.message.tool_calls or []
    assert [(tc.id, tc.type) for tc in tool_calls] == [
        ("call_1", "function"),
        ("mine_7", "function"),
    ]
    assert json.loads(tool_calls[0].function.arguments) == ARGS
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1200, 85)
    plain = client.chat.completions.create(model="qwen-test", messages=USER)
    assert plain.choices[0].finish_reason == "stop"
    assert plain.choices[0].message.content == "second"
    assert plain.choices[0].message.tool_calls is None


# --------------------------------------------------------------------------- Anthropic Messages


def test_anthropic_stream_events(server: FakeModelServer) -> None:
    client = anthropic_client(server)
    with client.messages.stream(model="claude-test", max_tokens=1000, messages=USER) as stream:
        events = list(stream)
        final = stream.get_final_message()

    raw_types = [e.type for e in events]
    assert raw_types[0] == "message_start" and "message_stop" in raw_types
    text_deltas = [
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    ]
    assert len(text_deltas) >= 2 and "".join(text_deltas) == TEXT
    json_pieces = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len([p for p in json_pieces if p]) >= 4  # 2+ non-empty pieces for each of 2 calls
    assert any(
        e.type == "content_block_delta" and e.delta.type == "signature_delta" for e in events
    )

    assert [b.type for b in final.content] == ["thinking", "text", "tool_use", "tool_use"]
    thinking, text, use1, use2 = final.content
    assert thinking.thinking == REASONING and thinking.signature
    assert text.text == TEXT
    assert (use1.id, use1.name, use1.input) == ("toolu_1", "shell", ARGS)
    assert (use2.id, use2.input) == ("mine_7", {"patch": "*** Begin Patch"})
    assert final.stop_reason == "tool_use" and final.model == "claude-test"
    # Anthropic reports cache reads apart from (uncached) input tokens.
    assert final.usage.input_tokens == 1200 - 1024
    assert final.usage.cache_read_input_tokens == 1024
    assert final.usage.output_tokens == 85


def test_anthropic_non_streaming(server: FakeModelServer) -> None:
    client = anthropic_client(server)
    message = client.messages.create(model="claude-test", max_tokens=100, messages=USER)
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[2].input == ARGS  # type: ignore[union-attr]
    assert message.usage.output_tokens == 85
    second = client.messages.create(model="claude-test", max_tokens=100, messages=USER)
    assert second.stop_reason == "end_turn"
    assert [(b.type, b.text) for b in second.content] == [("text", "second")]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- errors


def _call(protocol: str, srv: FakeModelServer, key: str | None = None) -> Any:
    if protocol == "anthropic":
        return anthropic_client(srv, key or "k").messages.create(
            model="m", max_tokens=10, messages=USER
        )
    client = openai_client(srv, key or "k")
    if protocol == "responses":
        return client.responses.create(model="m", input="x")
    return client.chat.completions.create(model="m", messages=USER)


PROTOCOLS = ["responses", "chat", "anthropic"]
SDK_ERRORS = {
    429: (openai.RateLimitError, anthropic.RateLimitError),
    500: (openai.InternalServerError, anthropic.InternalServerError),
    401: (openai.AuthenticationError, anthropic.AuthenticationError),
    400: (openai.BadRequestError, anthropic.BadRequestError),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", sorted(SDK_ERRORS))
def test_error_turns_raise_the_sdk_error(protocol: str, status: int) -> None:
    error = {"status": status, "message": f"boom {status}", "retry_after": 2.5}
    with FakeModelServer([{"error": error}, {"text": "recovered"}]) as srv:
        expected = SDK_ERRORS[status][1 if protocol == "anthropic" else 0]
        with pytest.raises(expected) as info:
            _call(protocol, srv)
        exc = info.value
        assert exc.status_code == status
        assert exc.response.headers["retry-after"] == "2.5"
        if protocol == "anthropic":
            body = exc.response.json()
            assert body["type"] == "error" and body["error"]["message"] == f"boom {status}"
        else:
            assert exc.body["message"] == f"boom {status}"
            assert set(exc.body) >= {"message", "type", "code"}
        # The error used up its turn; the next request gets the next one.
        assert srv.turns_used == 1
        _call(protocol, srv)
        assert srv.turns_used == 2


def test_openai_error_code_is_passed_through() -> None:
    error = {"status": 400, "message": "too long", "code": "context_length_exceeded"}
    with FakeModelServer([{"error": error}]) as srv, pytest.raises(openai.BadRequestError) as info:
        _call("chat", srv)
    assert info.value.code == "context_length_exceeded"
    assert info.value.type == "invalid_request_error"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_api_key_is_enforced(protocol: str) -> None:
    with FakeModelServer([{"text": "ok"}], api_key="right-key") as srv:
        wrong = (
            anthropic.AuthenticationError if protocol == "anthropic" else openai.AuthenticationError
        )
        with pytest.raises(wrong):
            _call(protocol, srv, key="wrong-key")
        assert srv.turns_used == 0  # a rejected request does not eat a turn
        _call(protocol, srv, key="right-key")
        assert srv.turns_used == 1
        assert [r.status for r in srv.requests] == [401, 200]
        assert _sent_key(srv.requests[-1].headers) == "right-key"


def _sent_key(headers: dict[str, str]) -> str | None:
    # Anthropic SDKs have sent `x-api-key` or (recent ones) `Authorization: Bearer`.
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def test_script_exhausted_fails_loudly() -> None:
    with FakeModelServer([{"text": "only one"}]) as srv:
        _call("chat", srv)
        with pytest.raises(openai.BadRequestError, match=r"script exhausted \(2 requests\)"):
            _call("responses", srv)
        with pytest.raises(anthropic.BadRequestError, match=r"script exhausted \(3 requests\)"):
            _call("anthropic", srv)


# --------------------------------------------------------------------------- broken streams


def _events_until_failure(events: Any) -> tuple[list[str], BaseException | None]:
    seen: list[str] = []
    try:
        for event in events:
            seen.append(getattr(event, "type", None) or "chunk")
    except Exception as exc:
        return seen, exc
    return seen, None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_drop_after_breaks_the_stream(protocol: str) -> None:
    with FakeModelServer([{"text": TEXT, "drop_after": 4}]) as srv:
        if protocol == "anthropic":
            client = anthropic_client(srv)
            with client.messages.stream(model="m", max_tokens=10, messages=USER) as stream:
                # The helper yields an extra "text" event per text delta; count raw ones.
                seen, exc = _events_until_failure(stream)
            seen = [t for t in seen if t != "text"]
        elif protocol == "responses":
            events = openai_client(srv).responses.create(model="m", input="x", stream=True)
            seen, exc = _events_until_failure(events)
        else:
            chunks = openai_client(srv).chat.completions.create(
                model="m", messages=USER, stream=True
            )
            seen, exc = _events_until_failure(chunks)
    # Exactly the first 4 events arrived, then the connection died mid-body. (Anthropic's 2nd
    # event is a `ping`, which the SDK does not pass on.)
    assert len(seen) == (3 if protocol == "anthropic" else 4)
    if protocol == "responses":
        assert seen[-1] == "response.content_part.added"
    if protocol == "anthropic":
        assert seen == ["message_start", "content_block_start", "content_block_delta"]
    assert "response.completed" not in seen and "message_stop" not in seen
    assert exc is not None, "the SDK should notice the incomplete chunked body"


# --------------------------------------------------------------------------- models, recording


def test_models_list_with_both_sdks() -> None:
    with FakeModelServer([], models=["gpt-5-fake", "qwen3-fake"]) as srv:
        page = openai_client(srv).models.list()
        assert [(m.id, m.object) for m in page.data] == [
            ("gpt-5-fake", "model"),
            ("qwen3-fake", "model"),
        ]
        ant = anthropic_client(srv).models.list()
        assert [m.id for m in ant.data] == ["gpt-5-fake", "qwen3-fake"]
        assert openai_client(srv).models.retrieve("qwen3-fake").id == "qwen3-fake"
        assert srv.requests == []  # only model requests are recorded


def test_requests_are_recorded_with_bodies_and_headers(server: FakeModelServer) -> None:
    tools = [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]
    openai_client(server, key="sk-abc").responses.create(
        model="gpt-test", input="hello there", tools=tools, instructions="be brief"
    )
    anthropic_client(server, key="sk-ant").messages.create(
        model="claude-test", max_tokens=50, system="sys", messages=USER
    )
    first, second = server.requests
    assert (first.method, first.path, first.protocol, first.turn) == (
        "POST",
        "/v1/responses",
        "openai-responses",
        0,
    )
    assert first.body["input"] == "hello there" and first.body["tools"] == tools
    assert first.body["instructions"] == "be brief"
    assert first.headers["authorization"] == "Bearer sk-abc"
    assert all(k == k.lower() for k in first.headers)
    assert (second.path, second.protocol, second.turn) == ("/v1/messages", "anthropic", 1)
    assert _sent_key(second.headers) == "sk-ant"
    assert "anthropic-version" in second.headers
    assert server.bodies("/messages") == [second.body]
    assert second.body["system"] == "sys" and second.body["messages"] == USER
    assert len(server.bodies()) == 2
