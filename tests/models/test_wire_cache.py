"""The cached request encoding is byte-identical to encoding `build_body` whole."""

from __future__ import annotations

from lever.models import chat, responses
from lever.models.base import ModelRequest, ToolSchema
from lever.models.wire_cache import PieceCache, dumps
from lever.protocol.items import AssistantMessage, Reasoning, ToolCall, ToolOutput, UserMessage


def _request(items: list) -> ModelRequest:
    tool = ToolSchema(name="shell", description="run é", parameters={"type": "object"})
    return ModelRequest(instructions="be brief", tools=[tool], items=items, model="m")


HISTORY = [
    UserMessage(text="hi ✓"),
    Reasoning(summary="think", encrypted_content="enc"),
    AssistantMessage(text="looking"),
    ToolCall(call_id="c1", name="shell", arguments='{"command":"ls"}'),
    ToolCall(call_id="c2", name="shell", arguments="{}"),
    ToolOutput(call_id="c1", output="a\nb"),
    ToolOutput(call_id="c2", output="", is_error=True),
    Reasoning(summary="no content"),
    AssistantMessage(text="done"),
]


def test_encoding_matches_build_body_as_history_grows() -> None:
    for module in (chat, responses):
        cache = PieceCache()
        for n in range(len(HISTORY) + 1):
            request = _request(HISTORY[:n])
            assert module.encode_body(request, cache) == dumps(module.build_body(request))
        # After a compaction the history is new; nothing stale leaks in.
        request = _request([UserMessage(text="summary")])
        assert module.encode_body(request, cache) == dumps(module.build_body(request))
