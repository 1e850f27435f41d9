"""Small-model robustness against the real 0.5B: the text fallback and the stuck detector.

With the GGUF's own chat template llama-server returns no `tool_calls`: the model writes its
call as a fenced JSON block in the content. `TextToolCalls` must read it as a real call. And the
0.5B, left to run, repeats its call instead of answering: `StuckDetector` must see that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.agent.stuck import StuckDetector, Verdict
from lever.models.base import ModelRequest
from lever.models.factory import make_client
from lever.models.text_tools import TEXT_CALL_PREFIX, TextToolCalls
from lever.protocol import ItemAdded, ToolFinished, ToolStarted
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


async def test_the_real_0_5b_loops_and_the_detector_nudges_then_stops(
    tmp_path: Path, own_template_url: str
) -> None:
    """The 0.5B repeats `wc -l` instead of answering; fed the real run, the detector reacts."""
    (tmp_path / "README.md").write_text("".join(f"line {i}\n" for i in range(7)))
    session = Session(
        TextToolCalls(make_client("openai-chat", own_template_url, None, timeout=120)),
        model="qwen2.5-coder-0.5b-instruct",
        provider="local",
        cwd=tmp_path,
        tools=default_tools(),
        limits=Limits(max_turns=6),
    )
    detector = StuckDetector()
    verdicts: list[Verdict] = []
    started: dict[str, ToolStarted] = {}

    def watch(event: Any) -> None:
        if isinstance(event, ToolStarted):
            started[event.call_id] = event
        elif isinstance(event, ToolFinished):
            call = started[event.call_id]
            verdicts.append(detector.observe(call.name, call.arguments, event.full_output))
            if verdicts[-1].action == "stop":
                session.interrupt()

    session.subscribe(watch)
    session.start()
    try:
        await session.run_turn("How many lines does README.md have? Use the shell tool.")
    finally:
        await session.close()
    actions = [v.action for v in verdicts]
    assert "nudge" in actions, f"the 0.5B did not repeat itself: {actions}"
    assert actions.index("nudge") >= 1
