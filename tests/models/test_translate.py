"""Pure translation: lever items → each wire's request body, and wire stream pieces → items."""

from __future__ import annotations

from typing import Any

from lever.models import anthropic, chat, responses
from lever.models.base import ModelRequest, ToolSchema
from lever.protocol import ItemAdded, TokenUsage
from lever.protocol.items import (
    AssistantMessage,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)

TOOL = ToolSchema("shell", "Run a command.", {"type": "object", "properties": {}})

HISTORY: list[Item] = [
    UserMessage(text="fix the bug"),
    Reasoning(summary="look first", id="rs_1", encrypted_content="ENC"),
    AssistantMessage(text="Looking.", id="msg_1"),
    ToolCall(call_id="call_1", name="shell", arguments='{"command": ["ls"]}', id="fc_1"),
    ToolCall(call_id="call_2", name="shell", arguments="", id="fc_2"),
    ToolOutput(call_id="call_1", output="a.py"),
    ToolOutput(call_id="call_2", output="boom", is_error=True),
    AssistantMessage(text="Done."),
]


def request(items: list[Item] = HISTORY, **kw: Any) -> ModelRequest:
    return ModelRequest(instructions="be brief", tools=[TOOL], items=items, model="m", **kw)


# ---------------------------------------------------------------- Responses


def test_responses_body() -> None:
    body = responses.build_body(request())
    assert body == {
        "model": "m",
        "instructions": "be brief",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "fix the bug"}],
            },
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "look first"}],
                "encrypted_content": "ENC",
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Looking."}],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "shell",
                "arguments": '{"command": ["ls"]}',
            },
            {"type": "function_call", "call_id": "call_2", "name": "shell", "arguments": ""},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.py"},
            {"type": "function_call_output", "call_id": "call_2", "output": "boom"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Done."}],
            },
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "Run a command.",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            }
        ],
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }


def test_responses_body_extra_and_limits() -> None:
    extra = {"reasoning": {"effort": "high", "summary": "auto"}}
    body = responses.build_body(
        request([UserMessage(text="hi")], max_output_tokens=99, extra=extra)
    )
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["max_output_tokens"] == 99
    # Reasoning without encrypted content cannot be replayed statelessly.
    body = responses.build_body(request([Reasoning(summary="x"), UserMessage(text="hi")]))
    assert [i["type"] for i in body["input"]] == ["message"]


def test_responses_output_items() -> None:
    msg = {"type": "message", "id": "msg_9", "content": [{"type": "output_text", "text": "hi"}]}
    assert responses.output_item(msg) == AssistantMessage(text="hi", id="msg_9")
    rs = {
        "type": "reasoning",
        "id": "rs_9",
        "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
        "encrypted_content": "E",
    }
    assert responses.output_item(rs) == Reasoning(
        summary="a\n\nb", id="rs_9", encrypted_content="E"
    )
    fc = {
        "type": "function_call",
        "id": "fc_9",
        "call_id": "c9",
        "name": "shell",
        "arguments": "{}",
    }
    assert responses.output_item(fc) == ToolCall(
        call_id="c9", name="shell", arguments="{}", id="fc_9"
    )
    assert responses.output_item({"type": "web_search_call"}) is None


def test_responses_usage() -> None:
    usage = {
        "input_tokens": 100,
        "output_tokens": 20,
        "input_tokens_details": {"cached_tokens": 80},
        "output_tokens_details": {"reasoning_tokens": 5},
    }
    event = responses.usage_event(usage)
    assert (event.input_tokens, event.output_tokens) == (100, 20)
    assert (event.cached_input_tokens, event.reasoning_tokens) == (80, 5)


# ---------------------------------------------------------------- Chat Completions


def test_chat_messages_merge_assistant_and_tool_calls() -> None:
    body = chat.build_body(request())
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "fix the bug"},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command": ["ls"]}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "shell", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.py"},
        {"role": "tool", "tool_call_id": "call_2", "content": "boom"},
        {"role": "assistant", "content": "Done."},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "shell",
                "description": "Run a command.",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_chat_tool_call_only_message_has_null_content() -> None:
    items: list[Item] = [
        UserMessage(text="go"),
        ToolCall(call_id="c", name="shell", arguments="{}"),
    ]
    messages = chat.items_to_messages("", items)
    assert messages[0] == {"role": "user", "content": "go"}
    assert messages[1]["content"] is None and messages[1]["tool_calls"][0]["id"] == "c"


def test_chat_turn_assembles_tool_calls_by_index() -> None:
    turn = chat.ChatTurn()
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hmm"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Run"}}]},
        {"choices": [{"index": 0, "delta": {"content": "ning."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c0",
                                "type": "function",
                                "function": {"name": "shell", "arguments": ""},
                            },
                            {
                                "index": 1,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "read", "arguments": '{"p'},
                            },
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]},
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 1, "function": {"arguments": '": 2}'}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 3,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        },
    ]
    deltas = [d for c in chunks for d in turn.feed(c)]
    assert [(d.delta, d.channel) for d in deltas] == [
        ("hmm", "reasoning"),
        ("Run", "text"),
        ("ning.", "text"),
    ]
    assert turn.finished
    events = turn.events()
    items = [e.item for e in events if isinstance(e, ItemAdded)]
    assert items == [
        Reasoning(summary="hmm"),
        AssistantMessage(text="Running."),
        ToolCall(call_id="c0", name="shell", arguments='{"a": 1}'),
        ToolCall(call_id="c1", name="read", arguments='{"p": 2}'),
    ]
    usage = events[-1]
    assert isinstance(usage, TokenUsage)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (10, 3, 4)


def test_chat_turn_without_usage_emits_none() -> None:
    turn = chat.ChatTurn()
    turn.feed({"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}]})
    assert not any(isinstance(e, TokenUsage) for e in turn.events())


# ---------------------------------------------------------------- Anthropic


def test_anthropic_body_alternates_roles() -> None:
    items = [
        *HISTORY[:2],
        Reasoning(summary="signed", encrypted_content="SIG"),
        *HISTORY[2:],
        UserMessage(text="thanks"),
    ]
    body = anthropic.build_body(request(items), prompt_cache=False)
    assert body == {
        "model": "m",
        "max_tokens": 8192,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "fix the bug"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "look first", "signature": "ENC"},
                    {"type": "thinking", "thinking": "signed", "signature": "SIG"},
                    {"type": "text", "text": "Looking."},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "shell",
                        "input": {"command": ["ls"]},
                    },
                    {"type": "tool_use", "id": "call_2", "name": "shell", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "content": "a.py",
                        "is_error": False,
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": "boom",
                        "is_error": True,
                    },
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
            {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
        ],
        "tools": [
            {
                "name": "shell",
                "description": "Run a command.",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
        "stream": True,
    }


def test_anthropic_unsigned_reasoning_dropped_and_cache_marks() -> None:
    items: list[Item] = [
        UserMessage(text="a"),
        Reasoning(summary="local"),
        AssistantMessage(text="b"),
    ]
    body = anthropic.build_body(request(items, max_output_tokens=100))
    assert body["max_tokens"] == 100
    assert body["system"] == [
        {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}],
    }
    assert "cache_control" not in body["messages"][0]["content"][0]


def test_anthropic_redacted_thinking_round_trip() -> None:
    turn = anthropic.MessagesTurn()
    turn.start_block(0, {"type": "redacted_thinking", "data": "OPAQUE"})
    added = turn.stop_block(0)
    assert added is not None
    block = anthropic.item_to_block(added.item)
    assert block == ("assistant", {"type": "redacted_thinking", "data": "OPAQUE"})


def test_anthropic_turn_blocks_and_usage() -> None:
    turn = anthropic.MessagesTurn()
    turn.start_message(
        {"usage": {"input_tokens": 5, "cache_read_input_tokens": 90, "output_tokens": 1}}
    )
    turn.start_block(0, {"type": "thinking", "thinking": ""})
    delta = turn.delta(0, {"type": "thinking_delta", "thinking": "hm"})
    assert delta is not None and (delta.delta, delta.channel) == ("hm", "reasoning")
    turn.delta(0, {"type": "signature_delta", "signature": "SIG"})
    first = turn.stop_block(0)
    turn.start_block(1, {"type": "tool_use", "id": "toolu_1", "name": "shell", "input": {}})
    turn.delta(1, {"type": "input_json_delta", "partial_json": ""})
    second = turn.stop_block(1)
    turn.set_usage({"output_tokens": 42})
    assert first is not None and second is not None
    assert first.item == Reasoning(summary="hm", encrypted_content="SIG")
    assert second.item == ToolCall(call_id="toolu_1", name="shell", arguments="{}")
    usage = turn.usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) == (95, 90, 42)
