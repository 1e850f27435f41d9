"""lever's three clients against a real llama-server running Qwen2.5-Coder-0.5B at temperature 0.

llama-server implements /v1/chat/completions, /v1/responses and /v1/messages itself, so this is
the check that lever's clients work against protocols nobody on this team wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lever.models.base import BadRequestError, ModelRequest, ToolSchema
from lever.models.factory import make_client
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import AssistantMessage, ToolCall, UserMessage
from lever.tools.registry import default_tools

from .conftest import TIMEOUT, real_server

pytestmark = [pytest.mark.local_model, pytest.mark.timeout(TIMEOUT)]
WIRES = ["openai-chat", "openai-responses", "anthropic"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with real_server("0.5b") as url:
        yield url


@pytest.fixture(scope="module")
def tiny_context_url() -> Iterator[str]:
    with real_server("0.5b", ctx_size=256, tag="-tiny") as url:
        yield url


def shell_schema() -> ToolSchema:
    """lever's real `shell` tool schema, as a session offers it."""
    return next(s for s in default_tools().schemas() if s.name == "shell")


async def run(wire: str, base_url: str, request: ModelRequest) -> list[Any]:
    client = make_client(wire, base_url, None, timeout=120)
    try:
        return [event async for event in client.stream(request)]
    finally:
        await client.aclose()


def ask(text: str, tools: list[ToolSchema] | None = None, system: str = "") -> ModelRequest:
    return ModelRequest(
        instructions=system or "You are a helpful assistant. Answer briefly.",
        tools=tools or [],
        items=[UserMessage(text=text)],
        model="qwen2.5-coder-0.5b-instruct",
        max_output_tokens=64,
    )


def items(events: list[Any]) -> list[Any]:
    return [e.item for e in events if isinstance(e, ItemAdded)]


def usage(events: list[Any]) -> TokenUsage:
    found = [e for e in events if isinstance(e, TokenUsage)]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("wire", WIRES)
async def test_streams_a_real_answer_with_usage(wire: str, base_url: str) -> None:
    events = await run(wire, base_url, ask("What is the capital of France? One word."))
    deltas = [e.delta for e in events if isinstance(e, TextDelta) and e.channel == "text"]
    assert deltas, "the answer should arrive as text deltas"
    messages = [i for i in items(events) if isinstance(i, AssistantMessage)]
    assert len(messages) == 1
    assert messages[0].text == "".join(deltas)
    assert "paris" in messages[0].text.lower()
    counted = usage(events)
    assert counted.input_tokens > 10
    assert 0 < counted.output_tokens <= 64


@pytest.mark.parametrize("wire", WIRES)
async def test_a_real_tool_call_of_the_offered_tool(wire: str, base_url: str) -> None:
    request = ask(
        "How many lines does README.md have? Use the shell tool.",
        tools=[shell_schema()],
        system="You are a coding assistant. Use the shell tool to run commands.",
    )
    request.max_output_tokens = 128
    events = await run(wire, base_url, request)
    calls = [i for i in items(events) if isinstance(i, ToolCall)]
    assert len(calls) >= 1, f"no tool call; reply: {items(events)}"
    call = calls[0]
    assert call.name == "shell"
    assert call.call_id
    arguments = json.loads(call.arguments)
    command = arguments["command"]
    joined = command if isinstance(command, str) else " ".join(command)
    assert joined.strip(), arguments
    assert usage(events).output_tokens > 0


async def test_the_prompt_cache_is_reported(base_url: str) -> None:
    """llama-server reuses the KV cache of a common prefix; lever reports it as cached."""
    request = ask("Name one prime number. One word.")
    await run("openai-chat", base_url, request)
    again = usage(await run("openai-chat", base_url, request))
    assert again.cached_input_tokens > 0
    assert again.cached_input_tokens <= again.input_tokens


@pytest.mark.parametrize("wire", WIRES)
async def test_a_context_overflow_is_a_clear_error(wire: str, tiny_context_url: str) -> None:
    long_text = "Summarise this: " + "lorem ipsum dolor sit amet " * 120
    with pytest.raises(BadRequestError) as raised:
        await run(wire, tiny_context_url, ask(long_text))
    message = str(raised.value)
    assert raised.value.status == 400
    # The server's own words, passed on (ContextLengthError is a BadRequestError).
    assert "context" in message.lower(), message
