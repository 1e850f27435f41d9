import typing

import pytest
from pydantic import BaseModel

from lever.protocol import (
    Compaction,
    Event,
    ItemAdded,
    PlanStep,
    PlanUpdated,
    Reasoning,
    TextDelta,
    ToolCall,
    ToolOutput,
    ToolOutputChunk,
    UserMessage,
    event_from_json,
    event_to_json,
)

EVENT_CLASSES: list[type[BaseModel]] = list(typing.get_args(typing.get_args(Event)[0]))


def test_every_event_has_a_distinct_type_tag() -> None:
    tags = [cls.model_fields["type"].default for cls in EVENT_CLASSES]
    assert len(tags) == len(set(tags)) == 18
    assert {
        "session_started",
        "item",
        "tool_finished",
        "approval_requested",
        "compaction",
        "turn_finished",
        "session_ended",
        "token_usage",
        "patch_applied",
        "child_started",
        "child_event",
        "child_finished",
    } <= set(tags)


@pytest.mark.parametrize(
    "event",
    [
        ItemAdded(seq=3, item=ToolCall(call_id="c", name="shell", arguments='{"a": "é"}')),
        ItemAdded(seq=4, item=ToolOutput(call_id="c", output="x\x00y", is_error=True)),
        ItemAdded(seq=5, item=Reasoning(summary="s", encrypted_content="opaque")),
        PlanUpdated(seq=6, plan=[PlanStep(step="a", status="pending")]),
        Compaction(seq=7, summary="sum", kept=[UserMessage(text="hi")]),
    ],
)
def test_json_round_trip(event: BaseModel) -> None:
    text = event_to_json(event)
    assert "\n" not in text
    assert event_from_json(text) == event


def test_deltas_and_chunks_are_ephemeral() -> None:
    assert TextDelta(delta="x").ephemeral and ToolOutputChunk(call_id="c", chunk="x").ephemeral
    assert not ItemAdded(item=UserMessage(text="x")).ephemeral


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValueError):
        event_from_json(
            '{"type": "item", "seq": 1, "ts": 0, "item": {"type": "user_message", '
            '"text": "x", "extra": 1}}'
        )
