"""Anthropic Messages client: lever items ↔ `POST /messages` with `stream: true`.

Messages alternate user/assistant: tool calls become `tool_use` blocks of the assistant message,
tool outputs `tool_result` blocks of the next user message, and signed reasoning goes back as
`thinking` blocks. The system prompt and the newest message carry `cache_control` breakpoints so
the byte-stable prefix hits Anthropic's prompt cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from lever import safe_json
from lever.models.base import ModelEvent, ModelRequest, OutputCut, ToolSchema
from lever.models.http import (
    SHAPE_ERRORS,
    HttpTransport,
    error_details,
    malformed_event,
    stream_cut,
)
from lever.models.traits import ANSWER_ROOM, thinking_budget
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import (
    AssistantMessage,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)

API_VERSION = "2023-06-01"
#: `max_tokens` when the request sets none: enough for most replies, and accepted by every model.
DEFAULT_MAX_TOKENS = 8192
#: The largest `max_tokens` each model family accepts (Anthropic's models overview), longest
#: prefix first; asked for after a reply was cut at the default cap.
MAX_OUTPUT_TOKENS = (
    ("claude-opus-4-5", 64_000),
    ("claude-opus-4-1", 32_000),
    ("claude-opus-4", 32_000),
    ("claude-sonnet-4", 64_000),
    ("claude-haiku-4", 64_000),
    ("claude-3-7-sonnet", 64_000),
    ("claude-3-5", 8_192),
    ("claude-3-haiku", 4_096),
)
#: `Reasoning.id` marking a redacted thinking block (its data is in `encrypted_content`).
REDACTED = "redacted_thinking"
_EPHEMERAL = {"type": "ephemeral"}


def max_output_tokens_for(model: str) -> int | None:
    """The model's largest output cap, when lever knows it."""
    for prefix, limit in MAX_OUTPUT_TOKENS:
        if model.startswith(prefix):
            return limit
    return None


def _tool_input(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = safe_json.loads(arguments)
    except json.JSONDecodeError:
        return {"raw_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


def item_to_block(item: Item) -> tuple[str, dict[str, Any]] | None:
    """(role, content block) for one lever item; None for items Anthropic cannot take back."""
    block: dict[str, Any]
    match item:
        case UserMessage(text=text) if text:
            return "user", {"type": "text", "text": text}
        case AssistantMessage(text=text) if text:
            return "assistant", {"type": "text", "text": text}
        case Reasoning(encrypted_content=str(data)) if item.id == REDACTED:
            return "assistant", {"type": "redacted_thinking", "data": data}
        case Reasoning(encrypted_content=str(signature)) if signature:
            block = {"type": "thinking", "thinking": item.summary, "signature": signature}
            return "assistant", block
        case ToolCall():
            block = {
                "type": "tool_use",
                "id": item.call_id,
                "name": item.name,
                "input": _tool_input(item.arguments),
            }
            return "assistant", block
        case ToolOutput():
            block = {
                "type": "tool_result",
                "tool_use_id": item.call_id,
                "content": item.output,
                "is_error": item.is_error,
            }
            return "user", block
    return None


def items_to_messages(items: list[Item]) -> list[dict[str, Any]]:
    """The history as alternating messages; consecutive blocks of one role share a message."""
    messages: list[dict[str, Any]] = []
    for item in items:
        converted = item_to_block(item)
        if converted is None:
            continue
        role, block = converted
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].append(block)
        else:
            messages.append({"role": role, "content": [block]})
    return messages


def tool_to_wire(tool: ToolSchema) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def _mark_cache(messages: list[dict[str, Any]]) -> None:
    """Put a cache breakpoint on the newest block (thinking blocks cannot carry one)."""
    if not messages:
        return
    for block in reversed(messages[-1]["content"]):
        if block["type"] not in ("thinking", "redacted_thinking"):
            block["cache_control"] = _EPHEMERAL
            return


def max_tokens_for(request: ModelRequest) -> int:
    """`max_tokens`: the request's cap, raised above the thinking budget when there is one (the
    API requires it to exceed `budget_tokens`), within the model's largest cap where known."""
    cap = request.max_output_tokens or DEFAULT_MAX_TOKENS
    budget = thinking_budget(request.model, request.reasoning)
    if budget is not None and cap <= budget:
        cap = budget + ANSWER_ROOM
        largest = max_output_tokens_for(request.model)
        cap = min(cap, largest) if largest is not None and largest > budget else cap
    return cap


def build_body(request: ModelRequest, *, prompt_cache: bool = True) -> dict[str, Any]:
    messages = items_to_messages(request.items)
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens_for(request)}
    budget = thinking_budget(request.model, request.reasoning)
    if budget is not None:
        # Extended thinking; its signed blocks go back unchanged with the tool_use they precede.
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if request.instructions:
        system: dict[str, Any] = {"type": "text", "text": request.instructions}
        if prompt_cache:
            system["cache_control"] = _EPHEMERAL
        body["system"] = [system]
    if request.tools:
        body["tools"] = [tool_to_wire(t) for t in request.tools]
    body["stream"] = True
    body.update(request.extra)
    # The history goes last so each request's bytes extend the previous one's (prompt caches).
    if prompt_cache:
        _mark_cache(messages)
    body["messages"] = messages
    return body


@dataclass
class _Block:
    kind: str
    text: str = ""
    signature: str = ""
    call_id: str = ""
    name: str = ""

    def item(self) -> Item | None:
        if self.kind == "text":
            return AssistantMessage(text=self.text) if self.text else None
        if self.kind == "thinking":
            return Reasoning(summary=self.text, encrypted_content=self.signature or None)
        if self.kind == "redacted_thinking":
            return Reasoning(id=REDACTED, encrypted_content=self.signature)
        if self.kind in ("tool_use", "server_tool_use"):
            return ToolCall(call_id=self.call_id, name=self.name, arguments=self.text or "{}")
        return None


@dataclass
class MessagesTurn:
    """Accumulates one streamed message into lever events."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)
    finished: bool = False
    stop_reason: str = ""

    def start_message(self, message: dict[str, Any]) -> None:
        self.set_usage(message.get("usage") or {})

    def set_usage(self, usage: dict[str, Any]) -> None:
        """Anthropic's `input_tokens` exclude cache reads and writes; lever's include them."""
        current = self.usage
        if usage.get("input_tokens") is not None:
            if usage.get("cache_read_input_tokens") is not None:
                current.cached_input_tokens = usage["cache_read_input_tokens"]
            written = usage.get("cache_creation_input_tokens") or 0
            cached = current.cached_input_tokens
            current.input_tokens = usage["input_tokens"] + cached + written
        if usage.get("output_tokens") is not None:
            current.output_tokens = usage["output_tokens"]

    def start_block(self, index: int, block: dict[str, Any]) -> None:
        kind = block.get("type", "")
        started = _Block(kind=kind, call_id=block.get("id", ""), name=block.get("name", ""))
        started.text = block.get("text") or block.get("thinking") or ""
        started.signature = block.get("signature") or block.get("data") or ""
        if kind == "tool_use" and block.get("input"):
            started.text = json.dumps(block["input"])
        self.blocks[index] = started

    def delta(self, index: int, delta: dict[str, Any]) -> TextDelta | None:
        block = self.blocks.setdefault(index, _Block(kind="text"))
        kind = delta.get("type")
        if kind == "text_delta":
            block.text += delta.get("text", "")
            return TextDelta(delta=delta.get("text", ""))
        if kind == "thinking_delta":
            block.text += delta.get("thinking", "")
            return TextDelta(delta=delta.get("thinking", ""), channel="reasoning")
        if kind == "input_json_delta":
            block.text += delta.get("partial_json", "")
        elif kind == "signature_delta":
            block.signature += delta.get("signature", "")
        return None

    def stop_block(self, index: int) -> ItemAdded | None:
        block = self.blocks.pop(index, None)
        item = block.item() if block is not None else None
        return ItemAdded(item=item) if item is not None else None


class AnthropicClient:
    wire = "anthropic"

    def __init__(self, http: HttpTransport, *, prompt_cache: bool = True) -> None:
        self.http = http
        self.prompt_cache = prompt_cache

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        turn = MessagesTurn()
        body = build_body(request, prompt_cache=self.prompt_cache)
        async with aclosing(self.http.stream_sse("messages", body)) as events:
            async for _, data in events:
                if not isinstance(data, dict):
                    continue
                try:
                    event = self._handle(turn, data)
                except SHAPE_ERRORS as e:
                    raise malformed_event(e) from None
                if event is not None:
                    yield event
                if turn.finished:
                    if turn.stop_reason == "max_tokens":
                        yield OutputCut(reason="max_tokens", limit=max_tokens_for(request))
                    yield turn.usage
                    return
        raise stream_cut("message_stop")

    def _handle(self, turn: MessagesTurn, data: dict[str, Any]) -> ModelEvent | None:
        kind = data.get("type")
        index = data.get("index", 0)
        if kind == "message_start":
            turn.start_message(data.get("message") or {})
        elif kind == "content_block_start":
            turn.start_block(index, data.get("content_block") or {})
        elif kind == "content_block_delta":
            return turn.delta(index, data.get("delta") or {})
        elif kind == "content_block_stop":
            return turn.stop_block(index)
        elif kind == "message_delta":
            turn.set_usage(data.get("usage") or {})
            turn.stop_reason = (data.get("delta") or {}).get("stop_reason") or turn.stop_reason
        elif kind == "message_stop":
            turn.finished = True
        elif kind == "error":
            raise self.http.error(*error_details(data))
        return None

    def larger_output_cap(self, model: str, current: int | None) -> int | None:
        """A larger `max_tokens` to ask for after a cut reply, if the model takes one."""
        largest = max_output_tokens_for(model)
        if largest is not None and largest > (current or DEFAULT_MAX_TOKENS):
            return largest
        return None

    async def aclose(self) -> None:
        await self.http.aclose()
