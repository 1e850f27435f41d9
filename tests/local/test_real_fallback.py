"""Small-model robustness against the real 0.5B: the text tool-call fallback.

With the GGUF's own chat template llama-server returns no `tool_calls`: the model writes its
call in the content (a fenced ```sh block, as measured). `TextToolCalls` must read it as a real
call. Loops are caught by the StuckDetector (tests/agent/test_stuck.py, and the scripted
session test in tests/agent/test_session.py); the 1.5B exec test runs with it wired in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lever.models.base import ModelRequest
from lever.models.factory import make_client
from lever.models.text_tools import TEXT_CALL_PREFIX, TextToolCalls
from lever.protocol import ItemAdded
from lever.protocol.items import ToolCall, UserMessage
from lever.tools.registry import default_tools

from .conftest import TIMEOUT, real_server

pytestmark = [pytest.mark.local_model, pytest.mark.timeout(TIMEOUT)]


@pytest.fixture(scope="module")
def own_template_url() -> Iterator[str]:
    with real_server("0.5b", own_template=False, tag="-gguf-template") as url:
        yield url


def shell_request() -> ModelRequest:
    return ModelRequest(
        instructions="You are a coding assistant. Use the shell tool to run commands.",
        tools=[s for s in default_tools().schemas() if s.name == "shell"],
        items=[UserMessage(text="How many lines does README.md have? Use the shell tool.")],
        model="qwen2.5-coder-0.5b-instruct",
        max_output_tokens=128,
    )


async def test_without_our_template_the_call_is_text_and_the_fallback_reads_it(
    own_template_url: str,
) -> None:
    raw = make_client("openai-chat", own_template_url, None, timeout=120)
    try:
        plain = [e async for e in raw.stream(shell_request())]
    finally:
        await raw.aclose()
    assert not [e for e in plain if isinstance(e, ItemAdded) and isinstance(e.item, ToolCall)]

    notices: list[str] = []
    wrapped = TextToolCalls(
        make_client("openai-chat", own_template_url, None, timeout=120),
        on_parsed=lambda call, text: notices.append(text),
    )
    try:
        events = [e async for e in wrapped.stream(shell_request())]
    finally:
        await wrapped.aclose()
    calls = [e.item for e in events if isinstance(e, ItemAdded) and isinstance(e.item, ToolCall)]
    assert len(calls) >= 1, notices
    assert calls[0].name == "shell" and calls[0].call_id.startswith(TEXT_CALL_PREFIX)
    command = json.loads(calls[0].arguments)["command"]
    assert (command if isinstance(command, str) else " ".join(command)).strip()
    assert notices and "shell" in notices[0]
