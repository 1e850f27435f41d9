"""OpenAI Responses API client: lever items ↔ `POST /responses` with `stream: true`.

Requests are stateless (`store: false`); reasoning goes back as `encrypted_content`. Item ids are
kept in lever's items but not sent back: with `store: false` the API refuses ids it did not
persist ("Item with id … not found"), so inputs carry content only, as the Codex CLI does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Collection
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from lever.models.base import ModelEvent, ModelRequest, OutputCut, ToolSchema
from lever.models.http import HttpTransport, stream_cut
from lever.models.sse import DONE
from lever.models.traits import FreeformTool, ReasoningParams
from lever.models.wire_cache import PieceCache, join_body
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import (
    AssistantMessage,
    CompactedHistory,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)

_REASONING_DELTAS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}


def freeform_input(call: ToolCall) -> str:
    """The raw text of a freeform call (kept as `{"input": text}` in `arguments`)."""
    try:
        value = json.loads(call.arguments)
    except json.JSONDecodeError:
        return call.arguments
    text = value.get("input") if isinstance(value, dict) else None
    return text if isinstance(text, str) else call.arguments


def item_to_input(item: Item, custom: Collection[str] = ()) -> dict[str, Any]:
    """One lever item as a Responses API input item; calls (and their outputs) whose id is in
    `custom` go as freeform `custom_tool_call`s."""
    match item:
        case UserMessage(text=text):
            return {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        case AssistantMessage(text=text):
            return {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
        case Reasoning():
            summary = [{"type": "summary_text", "text": item.summary}] if item.summary else []
            return {
                "type": "reasoning",
                "summary": summary,
                "encrypted_content": item.encrypted_content,
            }
        case ToolCall() if item.call_id in custom:
            return {
                "type": "custom_tool_call",
                "call_id": item.call_id,
                "name": item.name,
                "input": freeform_input(item),
            }
        case ToolOutput() if item.call_id in custom:
            return {
                "type": "custom_tool_call_output",
                "call_id": item.call_id,
                "output": item.output,
            }
        case ToolCall():
            return {
                "type": "function_call",
                "call_id": item.call_id,
                "name": item.name,
                "arguments": item.arguments,
            }
        case ToolOutput():
            return {"type": "function_call_output", "call_id": item.call_id, "output": item.output}
        case CompactedHistory():
            return {"type": "compaction", "encrypted_content": item.encrypted_content}
    raise TypeError(f"unknown item {item!r}")


def custom_calls(request: ModelRequest) -> frozenset[str]:
    """Ids of the freeform calls that go back as such: only while their tool is still freeform
    (after a switch to a function tool they are sent as function calls, which pair the same)."""
    names = {tool.name for tool in request.freeform} & {tool.name for tool in request.tools}
    if not names:
        return frozenset()
    return frozenset(
        i.call_id
        for i in request.items
        if isinstance(i, ToolCall) and i.freeform and i.name in names
    )


def freeform_to_wire(tool: FreeformTool) -> dict[str, Any]:
    grammar = {"type": "grammar", "syntax": "lark", "definition": tool.grammar}
    return {"type": "custom", "name": tool.name, "description": tool.description, "format": grammar}


def reasoning_to_wire(reasoning: ReasoningParams) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if reasoning.effort is not None:
        wire["effort"] = reasoning.effort
    if reasoning.summary not in (None, "none"):
        wire["summary"] = reasoning.summary
    return wire


def tools_to_wire(request: ModelRequest) -> list[dict[str, Any]]:
    freeform = {tool.name: tool for tool in request.freeform}
    return [
        freeform_to_wire(freeform[t.name]) if t.name in freeform else tool_to_wire(t)
        for t in request.tools
    ]


def tool_to_wire(tool: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": False,
    }


def _sendable(item: Item) -> bool:
    """Reasoning without encrypted content cannot be replayed statelessly: leave it out."""
    return not (isinstance(item, Reasoning) and not item.encrypted_content)


def build_body(request: ModelRequest) -> dict[str, Any]:
    # The history goes last so that a request's bytes extend the previous request's bytes: the
    # fixed part (instructions, tools, options) never moves, which is what prompt caches reuse.
    body: dict[str, Any] = {"model": request.model, "instructions": request.instructions}
    if request.tools:
        body["tools"] = tools_to_wire(request)
    if request.max_output_tokens is not None:
        body["max_output_tokens"] = request.max_output_tokens
    if request.reasoning is not None:
        body["reasoning"] = reasoning_to_wire(request.reasoning)
    body.update(stream=True, store=False, include=["reasoning.encrypted_content"])
    body.update(request.extra)
    custom = custom_calls(request)
    body["input"] = [item_to_input(i, custom) for i in request.items if _sendable(i)]
    return body


def encode_body(request: ModelRequest, cache: PieceCache) -> bytes:
    """`build_body(request)` as JSON bytes, each input item encoded once (`cache`)."""
    head = build_body(replace(request, items=[]))
    del head["input"]
    groups = [(i,) for i in request.items if _sendable(i)]
    custom = custom_calls(request)
    pieces = cache.encode(groups, lambda group: item_to_input(group[0], custom))
    return join_body(head, "input", pieces)


def output_item(data: dict[str, Any]) -> Item | None:
    """A `response.output_item.done` item as a lever item (None for kinds lever ignores)."""
    kind = data.get("type")
    if kind == "message":
        parts = data.get("content") or []
        text = "".join(p.get("text") or p.get("refusal") or "" for p in parts)
        return AssistantMessage(text=text, id=data.get("id"))
    if kind == "reasoning":
        summary = "\n\n".join(s.get("text", "") for s in data.get("summary") or [])
        return Reasoning(
            summary=summary, id=data.get("id"), encrypted_content=data.get("encrypted_content")
        )
    if kind == "function_call":
        return ToolCall(
            call_id=data.get("call_id") or data.get("id") or "",
            name=data.get("name", ""),
            arguments=data.get("arguments") or "{}",
            id=data.get("id"),
        )
    if kind == "custom_tool_call":
        return ToolCall(
            call_id=data.get("call_id") or data.get("id") or "",
            name=data.get("name", ""),
            arguments=json.dumps({"input": data.get("input") or ""}),
            id=data.get("id"),
            freeform=True,
        )
    return None


def compacted_item(data: dict[str, Any]) -> Item | None:
    """An item of a `responses/compact` reply: the kept user messages and the opaque summary."""
    if data.get("type") == "compaction":
        return CompactedHistory(
            encrypted_content=data.get("encrypted_content", ""), id=data.get("id")
        )
    if data.get("type") == "message" and data.get("role") == "user":
        parts = data.get("content") or []
        return UserMessage(text="".join(p.get("text", "") for p in parts if isinstance(p, dict)))
    return output_item(data)


def usage_event(usage: dict[str, Any] | None) -> TokenUsage:
    usage = usage or {}
    return TokenUsage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cached_input_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


class ResponsesClient:
    wire = "openai-responses"

    def __init__(self, http: HttpTransport) -> None:
        self.http = http
        self._pieces = PieceCache()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        body = encode_body(request, self._pieces)
        async with aclosing(self.http.stream_sse("responses", body)) as events:
            async for _, data in events:
                if data is DONE or not isinstance(data, dict):
                    continue
                if data.get("type") == "response.incomplete":
                    details = (data.get("response") or {}).get("incomplete_details") or {}
                    reason = details.get("reason") or "incomplete"
                    yield OutputCut(reason=reason, limit=request.max_output_tokens)
                event = self._event(data)
                if event is not None:
                    yield event
                if data.get("type") in ("response.completed", "response.incomplete"):
                    return
        raise stream_cut("response.completed")

    def _event(self, data: dict[str, Any]) -> ModelEvent | None:
        kind = data.get("type", "")
        if kind == "response.output_text.delta":
            return TextDelta(delta=data.get("delta", ""))
        if kind in _REASONING_DELTAS:
            return TextDelta(delta=data.get("delta", ""), channel="reasoning")
        if kind == "response.reasoning_summary_part.added" and data.get("summary_index", 0) > 0:
            return TextDelta(delta="\n\n", channel="reasoning")
        if kind == "response.output_item.done":
            item = output_item(data.get("item") or {})
            return ItemAdded(item=item) if item is not None else None
        if kind in ("response.completed", "response.incomplete"):
            return usage_event((data.get("response") or {}).get("usage"))
        if kind == "response.failed":
            error = (data.get("response") or {}).get("error") or {}
            raise self.http.error(error.get("message") or "response failed", error.get("code"))
        if kind == "error":
            inner = data.get("error")
            error = inner if isinstance(inner, dict) else data
            raise self.http.error(error.get("message") or "error event", error.get("code"))
        return None

    async def compact(self, request: ModelRequest) -> list[Item]:
        """Server-side compaction: the provider returns the compacted history to send next."""
        custom = custom_calls(request)
        body = {
            "model": request.model,
            "instructions": request.instructions,
            "input": [item_to_input(i, custom) for i in request.items if _sendable(i)],
        }
        reply = await self.http.post_json("responses/compact", body)
        output = reply.get("output") if isinstance(reply, dict) else None
        if not isinstance(output, list):
            raise self.http.error(f"responses/compact returned no output list: {str(reply)[:200]}")
        return [item for data in output if (item := compacted_item(data)) is not None]

    async def aclose(self) -> None:
        await self.http.aclose()
