"""lever's request bodies against the published request types of the official SDKs.

The SDKs are independent of lever (dev dependencies) and generated from the providers' API specs,
so a body that passes `sdk_types.problems` has only fields, item kinds and values the API knows.
Each wire's body is built from a history with every item kind lever sends, with reasoning
parameters and (Responses) freeform apply_patch on, and off.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lever.agent.options import SessionOptions
from lever.models import anthropic, chat, responses, traits
from lever.models.base import ModelRequest, ToolSchema
from lever.protocol.items import (
    AssistantMessage,
    CompactedHistory,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)
from lever.tools import apply_patch
from tests.models.sdk_types import problems

SHELL = ToolSchema("shell", "Run a command.", {"type": "object", "properties": {}})
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
FREEFORM = traits.FreeformTool(
    "apply_patch", apply_patch.FREEFORM_DESCRIPTION, apply_patch.freeform_grammar()
)

HISTORY: list[Item] = [
    UserMessage(text="fix the bug"),
    Reasoning(summary="look first", id="rs_1", encrypted_content="gAAAA-ENC"),
    AssistantMessage(text="Looking.", id="msg_1"),
    ToolCall(call_id="call_1", name="shell", arguments='{"command": ["ls"]}', id="fc_1"),
    ToolCall(
        call_id="call_2", name="apply_patch", arguments=json.dumps({"input": PATCH}), freeform=True
    ),
    ToolOutput(call_id="call_1", output="a.py"),
    ToolOutput(call_id="call_2", output="Success.", is_error=False),
    AssistantMessage(text="Done."),
]


def request(model: str, *, reasoning: bool = True, **kw: Any) -> ModelRequest:
    options = traits.ModelOptions(effort="high", summary="detailed") if reasoning else None
    return ModelRequest(
        instructions="be brief",
        tools=[SHELL, apply_patch.ApplyPatchTool.schema],
        items=list(HISTORY),
        model=model,
        max_output_tokens=1000,
        reasoning=traits.reasoning_for(model, options) if options else None,
        freeform=(FREEFORM,) if traits.freeform_apply_patch(model, traits.ModelOptions()) else (),
        **kw,
    )


#: Where lever's Responses body knowingly differs from the SDK's types, as Codex's does and the
#: API accepts: reasoning items go back without their `id` (with `store: false` the API refuses
#: ids it did not keep), and the model's own earlier messages as `output_text` parts without the
#: `id`/`status` of an output message.
_RESPONSES_DEVIATIONS = (
    r"body\.input\[\d+\]\.id: required by ResponseReasoningItemParam",
    r"body\.input\[\d+\]\.content\[\d+\]\.type: 'output_text' is not one of \['input_text'\]",
)


def _responses_type() -> Any:
    from openai.types.responses import response_create_params

    return response_create_params.ResponseCreateParamsStreaming


def responses_problems(body: dict[str, Any]) -> list[str]:
    found = problems(body, _responses_type())
    return [p for p in found if not any(re.fullmatch(d, p) for d in _RESPONSES_DEVIATIONS)]


@pytest.mark.parametrize("model", ["gpt-5.1-codex", "gpt-4.1"])
def test_responses_body_matches_the_published_types(model: str) -> None:
    req = request(model, extra={"prompt_cache_key": "s1"})
    body = responses.build_body(req)
    assert responses_problems(body) == []
    # what the types allow but do not make sure of: it is the reasoning model that got them
    kinds = [i["type"] for i in body["input"]]
    if model.startswith("gpt-5"):
        assert body["reasoning"] == {"effort": "high", "summary": "detailed"}
        assert body["tools"][1]["type"] == "custom"
        assert body["tools"][1]["format"]["definition"].startswith("start: begin_patch hunk+")
        assert "custom_tool_call" in kinds and "custom_tool_call_output" in kinds
        assert body["input"][kinds.index("custom_tool_call")]["input"] == PATCH
    else:
        assert "reasoning" not in body
        assert [t["type"] for t in body["tools"]] == ["function", "function"]
        assert "custom_tool_call" not in kinds and kinds.count("function_call_output") == 2
    # the encrypted reasoning goes back in its place, before the calls it preceded
    assert kinds[:3] == ["message", "reasoning", "message"]
    assert body["input"][1]["encrypted_content"] == "gAAAA-ENC"


def test_responses_compaction_item_matches_the_published_types() -> None:
    req = request("gpt-5")
    req.items = [CompactedHistory(encrypted_content="opaque"), UserMessage(text="go on")]
    assert responses_problems(responses.build_body(req)) == []


@pytest.mark.parametrize("model", ["o3-mini", "gpt-5", "llama-3.1-8b"])
def test_chat_body_matches_the_published_types(model: str) -> None:
    from openai.types.chat import completion_create_params

    req = request(model, reasoning=model != "llama-3.1-8b")
    body = chat.build_body(req)
    assert problems(body, completion_create_params.CompletionCreateParamsStreaming) == []
    assert body.get("reasoning_effort") == (None if model.startswith("llama") else "high")


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-3-5-haiku-latest"])
def test_anthropic_body_matches_the_published_types(model: str) -> None:
    from anthropic.types import message_create_params

    body = anthropic.build_body(request(model))
    assert problems(body, message_create_params.MessageCreateParamsStreaming) == []
    assistant = body["messages"][1]["content"]
    if model.startswith("claude-sonnet-4"):
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
        assert body["max_tokens"] > 24576
        # the signed thinking block opens the assistant turn that carries the tool_use
        assert assistant[0] == {
            "type": "thinking",
            "thinking": "look first",
            "signature": "gAAAA-ENC",
        }
        assert [b["type"] for b in assistant[1:]] == ["text", "tool_use", "tool_use"]
        assert assistant[3]["input"] == {"input": PATCH}
    else:
        assert "thinking" not in body and body["max_tokens"] == 1000


def test_the_checker_refuses_what_the_api_refuses() -> None:
    """Without this, a checker that accepted everything would pass every test above."""
    body = responses.build_body(request("gpt-5"))
    assert responses_problems({**body, "reasoning_effort": "high"}) == [
        "body.reasoning_effort: not a field of ResponseCreateParamsStreaming"
    ]
    assert responses_problems({**body, "reasoning": {"effort": "extreme"}})
    bad_item = {"type": "custom_tool_call", "call_id": "c", "name": "n", "input": 3}
    assert responses_problems({**body, "input": [bad_item]})
    missing = {"type": "custom_tool_call_output", "output": "x"}  # no call_id
    assert responses_problems({**body, "input": [missing]})
    custom_tool = {"type": "custom", "name": "x", "format": {"type": "grammar", "syntax": "ebnf"}}
    assert responses_problems({**body, "tools": [custom_tool]})


def test_default_options_leave_a_session_model_neutral() -> None:
    """A model lever knows nothing of gets no reasoning and the function-tool apply_patch."""
    options = SessionOptions().model_options
    assert traits.reasoning_for("fake-model", options) is None
    assert not traits.freeform_apply_patch("fake-model", options)
    assert traits.reasoning_for("openrouter/openai/gpt-5-mini", options) is not None
    assert not traits.freeform_apply_patch("gpt-5-chat-latest", options)
    forced = traits.ModelOptions(reasoning=True, effort="low", apply_patch="freeform")
    assert traits.reasoning_for("my-model", forced) == traits.ReasoningParams(
        effort="low", summary="auto", declared=True
    )
    assert traits.freeform_apply_patch("my-model", forced)


def test_anthropic_max_tokens_exceeds_the_thinking_budget() -> None:
    def body(model: str, effort: str, cap: int | None) -> dict[str, Any]:
        reasoning = traits.reasoning_for(model, traits.ModelOptions(effort=effort))
        req = ModelRequest("", [], [UserMessage(text="hi")], model, cap, reasoning=reasoning)
        return anthropic.build_body(req)

    assert body("claude-3-7-sonnet-latest", "high", None)["max_tokens"] == 24576 + 8192
    assert body("claude-opus-4-1", "medium", 20_000)["max_tokens"] == 20_000  # already above
    assert body("claude-opus-4-1", "minimal", None)["thinking"]["budget_tokens"] == 1024
    # summary only (no effort): no extended thinking, which costs tokens and changes replies
    assert "thinking" not in anthropic.build_body(
        ModelRequest(
            "",
            [],
            [UserMessage(text="hi")],
            "claude-opus-4-1",
            reasoning=traits.reasoning_for("claude-opus-4-1", traits.ModelOptions()),
        )
    )
