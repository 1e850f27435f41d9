"""The three model clients against the fake model server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lever.models import anthropic, chat, responses
from lever.models.base import (
    AuthError,
    ContextLengthError,
    MalformedResponseError,
    ModelClient,
    ModelError,
    ModelEvent,
    ModelRequest,
    RetryableError,
    ToolSchema,
)
from lever.models.factory import list_models, make_client
from lever.models.retry import RetryingClient
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import (
    AssistantMessage,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)
from lever.testing.fake_model import FakeModelServer

WIRES = ["openai-responses", "openai-chat", "anthropic"]
PATHS = {
    "openai-responses": "/responses",
    "openai-chat": "/chat/completions",
    "anthropic": "/messages",
}
BUILDERS = {
    "openai-responses": responses.build_body,
    "openai-chat": chat.build_body,
    "anthropic": anthropic.build_body,
}
KEY_ENV = {
    "openai-responses": "OPENAI_API_KEY",
    "openai-chat": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
SHELL = ToolSchema(
    "shell",
    "Run a command.",
    {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}},
)
TOOL_TURN: dict[str, Any] = {
    "reasoning": "Let me list the files first.",
    "text": "Listing the files.",
    "tool_calls": [
        {"name": "shell", "arguments": {"command": ["ls", "-la"]}, "call_id": "call_a"},
        {"name": "shell", "arguments": {"command": ["pwd"]}},
    ],
    "usage": {"input_tokens": 120, "output_tokens": 30, "cached_input_tokens": 100},
}


@pytest.fixture(params=WIRES)
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer([], api_key="sk-test") as fake:
        yield fake


def client_for(wire: str, fake: FakeModelServer, key: str | None = "sk-test") -> ModelClient:
    return make_client(wire, fake.base_url, key, timeout=10, key_env=KEY_ENV[wire])


def req(items: list[Item], **kw: Any) -> ModelRequest:
    return ModelRequest(
        instructions="You are lever.", tools=[SHELL], items=items, model="fake-model", **kw
    )


async def run(client: ModelClient, request: ModelRequest) -> list[ModelEvent]:
    try:
        return [event async for event in client.stream(request)]
    finally:
        await client.aclose()


def items_of(events: list[ModelEvent]) -> list[Item]:
    return [e.item for e in events if isinstance(e, ItemAdded)]


def text_of(events: list[ModelEvent], channel: str = "text") -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta) and e.channel == channel)


async def test_streams_text_reasoning_tool_calls_and_usage(
    wire: str, server: FakeModelServer
) -> None:
    server.add_turns([TOOL_TURN])
    events = await run(client_for(wire, server), req([UserMessage(text="list files")]))

    assert text_of(events) == "Listing the files."
    assert text_of(events, "reasoning") == "Let me list the files first."
    items = items_of(events)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Reasoning", "AssistantMessage", "ToolCall", "ToolCall"]
    reasoning, message, first, second = items
    assert isinstance(reasoning, Reasoning) and reasoning.summary == "Let me list the files first."
    # Responses and Anthropic hand back an opaque blob to return; Chat Completions has none.
    assert bool(reasoning.encrypted_content) is (wire != "openai-chat")
    assert isinstance(message, AssistantMessage) and message.text == "Listing the files."
    assert isinstance(first, ToolCall) and isinstance(second, ToolCall)
    assert (first.call_id, first.name) == ("call_a", "shell")
    assert json.loads(first.arguments) == {"command": ["ls", "-la"]}
    assert json.loads(second.arguments) == {"command": ["pwd"]}
    assert second.call_id and second.call_id != first.call_id

    usage = [e for e in events if isinstance(e, TokenUsage)]
    assert len(usage) == 1 and events[-1] is usage[0]
    assert (usage[0].input_tokens, usage[0].output_tokens) == (120, 30)
    assert usage[0].cached_input_tokens == 100


async def test_history_round_trip_request_body(wire: str, server: FakeModelServer) -> None:
    server.add_turns([TOOL_TURN, {"text": "Done."}])
    history: list[Item] = [UserMessage(text="list files")]
    first = await run(client_for(wire, server), req(history))
    history += items_of(first)
    calls = [i for i in history if isinstance(i, ToolCall)]
    history += [
        ToolOutput(call_id=calls[0].call_id, output="a.py\nb.py"),
        ToolOutput(call_id=calls[1].call_id, output="permission denied", is_error=True),
    ]
    second = await run(client_for(wire, server), req(history))
    [answer] = items_of(second)
    assert isinstance(answer, AssistantMessage) and answer.text == "Done."

    recorded = server.requests
    assert [r.path for r in recorded] == [f"/v1{PATHS[wire]}"] * 2
    body = recorded[1].body
    assert body == json.loads(json.dumps(BUILDERS[wire](req(history))))
    assert body["stream"] is True
    _assert_call_ids(wire, body, [c.call_id for c in calls])
    headers = recorded[1].headers
    if wire == "anthropic":
        assert headers["x-api-key"] == "sk-test"
        assert headers["anthropic-version"] == "2023-06-01"
    else:
        assert headers["authorization"] == "Bearer sk-test"


def _assert_call_ids(wire: str, body: dict[str, Any], call_ids: list[str]) -> None:
    """The tool calls and their outputs in the sent history carry the same ids, in order."""
    if wire == "openai-responses":
        sent = [i["call_id"] for i in body["input"] if i["type"] == "function_call"]
        answered = [i["call_id"] for i in body["input"] if i["type"] == "function_call_output"]
        assert body["input"][1]["type"] == "reasoning" and body["input"][1]["encrypted_content"]
    elif wire == "openai-chat":
        assistant = [m for m in body["messages"] if m["role"] == "assistant"]
        assert len(assistant) == 1 and assistant[0]["content"] == "Listing the files."
        sent = [c["id"] for c in assistant[0]["tool_calls"]]
        answered = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    else:
        roles = [m["role"] for m in body["messages"]]
        assert roles == ["user", "assistant", "user"]
        blocks = [b for m in body["messages"] for b in m["content"]]
        assert blocks[1]["type"] == "thinking" and blocks[1]["signature"]
        sent = [b["id"] for b in blocks if b["type"] == "tool_use"]
        answered = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
        assert [b["is_error"] for b in blocks if b["type"] == "tool_result"] == [False, True]
    assert sent == answered == call_ids


# ---------------------------------------------------------------- retries

#: Events to let through before the cut: past the first completed item on the wires that emit
#: items as they complete, so a naive client would have put half a turn into the history.
DROP_AFTER = {"openai-responses": 12, "openai-chat": 6, "anthropic": 8}


class Retries:
    def __init__(self) -> None:
        self.calls: list[tuple[ModelError, int, float]] = []
        self.sleeps: list[float] = []

    def on_retry(self, error: ModelError, attempt: int, delay: float) -> None:
        self.calls.append((error, attempt, delay))

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)


@pytest.mark.parametrize(
    "failure",
    [
        {"error": {"status": 429, "message": "Rate limit reached", "retry_after": 2}},
        {"error": {"status": 500, "message": "The server had an error"}},
        {"drop_after": None},
    ],
    ids=["429", "500", "drop_after"],
)
async def test_retry_then_success_keeps_one_copy(
    wire: str, server: FakeModelServer, failure: dict[str, Any]
) -> None:
    turn = {
        "text": "hello there",
        "tool_calls": [{"name": "shell", "arguments": {"command": ["ls"]}}],
    }
    if "drop_after" in failure:
        failure = {**turn, "drop_after": DROP_AFTER[wire]}
    server.add_turns([failure, turn])
    retries = Retries()
    client = RetryingClient(
        client_for(wire, server), on_retry=retries.on_retry, sleep=retries.sleep
    )
    events = await run(client, req([UserMessage(text="hi")]))

    kinds = [type(i).__name__ for i in items_of(events)]
    assert kinds == ["AssistantMessage", "ToolCall"]
    assert sum(isinstance(e, TokenUsage) for e in events) == 1
    assert len(retries.calls) == 1
    error, attempt, delay = retries.calls[0]
    assert isinstance(error, RetryableError) and attempt == 1
    if "error" in failure:
        assert error.status == failure["error"]["status"]
        assert failure["error"]["message"] in str(error)
    if failure.get("error", {}).get("retry_after"):
        assert delay == 2.0
    assert retries.sleeps == [delay]
    assert len(server.requests) == 2


# ---------------------------------------------------------------- errors


async def test_bad_key_is_auth_error_naming_the_env_var(wire: str, server: FakeModelServer) -> None:
    server.add_turns([{"text": "never"}])
    with pytest.raises(AuthError) as info:
        await run(client_for(wire, server, key="sk-wrong"), req([UserMessage(text="hi")]))
    message = str(info.value)
    assert info.value.status == 401
    assert f"${KEY_ENV[wire]}" in message
    assert ("x-api-key" if wire == "anthropic" else "Incorrect API key") in message


async def test_context_length_error(wire: str, server: FakeModelServer) -> None:
    message = "prompt is too long: 210000 tokens > 200000 maximum"
    if wire != "anthropic":
        message = "This model's maximum context length is 128000 tokens."
    server.add_turns(
        [{"error": {"status": 400, "message": message, "code": "context_length_exceeded"}}]
    )
    with pytest.raises(ContextLengthError) as info:
        await run(client_for(wire, server), req([UserMessage(text="hi")]))
    assert message in str(info.value) and info.value.status == 400


@pytest.mark.parametrize("raw", ["data: {this is not json\n\n", "<html>Bad gateway</html>\n"])
async def test_garbage_is_malformed(wire: str, server: FakeModelServer, raw: str) -> None:
    server.add_turns([{"raw": raw}])
    with pytest.raises(MalformedResponseError):
        await run(client_for(wire, server), req([UserMessage(text="hi")]))


#: A well-formed first event, then the stream just ends (no completion event).
TRUNCATED = {
    "openai-responses": 'data: {"type": "response.created", "response": {}}\n\n',
    "openai-chat": 'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n',
    "anthropic": 'event: message_start\ndata: {"type": "message_start", "message": {}}\n\n',
}
#: An error event inside a stream that had started fine.
IN_STREAM_ERROR = {
    "openai-responses": 'data: {"type": "error", "code": "server_error", "message": "boom"}\n\n',
    "openai-chat": 'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    "anthropic": 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
    '"message": "boom"}}\n\n',
}


async def test_stream_without_completion_is_retryable(wire: str, server: FakeModelServer) -> None:
    server.add_turns([{"raw": TRUNCATED[wire]}])
    with pytest.raises(RetryableError, match="ended before"):
        await run(client_for(wire, server), req([UserMessage(text="hi")]))


async def test_error_event_in_stream(wire: str, server: FakeModelServer) -> None:
    server.add_turns([{"raw": IN_STREAM_ERROR[wire]}])
    with pytest.raises(RetryableError, match="boom"):
        await run(client_for(wire, server), req([UserMessage(text="hi")]))


async def test_connection_refused_is_retryable(wire: str) -> None:
    with FakeModelServer([]) as fake:
        base_url = fake.base_url
    client = make_client(wire, base_url, None, timeout=5)
    with pytest.raises(RetryableError, match="connection"):
        await run(client, req([UserMessage(text="hi")]))


async def test_list_models(wire: str) -> None:
    with FakeModelServer([], api_key="k", models=["m-small", "m-large"]) as fake:
        assert await list_models(wire, fake.base_url, "k") == ["m-small", "m-large"]
        with pytest.raises(AuthError):
            await list_models(wire, fake.base_url, "wrong")
