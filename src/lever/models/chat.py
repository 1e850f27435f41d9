"""Chat Completions client: lever items ↔ `POST /chat/completions` with `stream: true`.

Works against any compatible server (OpenAI, vLLM, llama.cpp, Ollama, LM Studio, OpenRouter…).
Assistant text and the tool calls that follow it become one assistant message with
`tool_calls`; reasoning is not sent back (the wire has no place for it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any

from lever.models.base import ModelEvent, ModelRequest, OutputCut, ToolSchema
from lever.models.http import (
    SHAPE_ERRORS,
    HttpTransport,
    error_details,
    malformed_event,
    stream_cut,
)
from lever.models.sse import DONE
from lever.models.traits import chat_reasoning_effort
from lever.models.wire_cache import Group, PieceCache, dumps, join_body
from lever.protocol import ItemAdded, TextDelta, TokenUsage
from lever.protocol.items import (
    AssistantMessage,
    Item,
    Reasoning,
    ToolCall,
    ToolOutput,
    UserMessage,
)


def _assistant(message: dict[str, Any] | None) -> dict[str, Any]:
    return message if message is not None else {"role": "assistant", "content": None}


def _add_text(message: dict[str, Any], text: str) -> None:
    message["content"] = f"{message['content']}\n{text}" if message["content"] else text


def _wire_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments or "{}"},
    }


def message_groups(items: list[Item]) -> list[Group]:
    """The history cut into what becomes one chat message each (reasoning is left out).

    Consecutive assistant text and tool calls form one group (one assistant message).
    """
    groups: list[Group] = []
    pending: list[Item] = []  # the assistant message being assembled
    for item in items:
        if isinstance(item, Reasoning):
            continue
        if isinstance(item, AssistantMessage | ToolCall):
            pending.append(item)
            continue
        if pending:
            groups.append(tuple(pending))
            pending = []
        if isinstance(item, UserMessage | ToolOutput):
            groups.append((item,))
    if pending:
        groups.append(tuple(pending))
    return groups


def render_group(group: Group) -> dict[str, Any]:
    """One group of `message_groups` as a chat message."""
    first = group[0]
    if isinstance(first, UserMessage):
        return {"role": "user", "content": first.text}
    if isinstance(first, ToolOutput):
        return {"role": "tool", "tool_call_id": first.call_id, "content": first.output}
    message = _assistant(None)
    for item in group:
        if isinstance(item, AssistantMessage):
            _add_text(message, item.text)
        elif isinstance(item, ToolCall):
            message.setdefault("tool_calls", []).append(_wire_call(item))
    return message


def items_to_messages(instructions: str, items: list[Item]) -> list[dict[str, Any]]:
    """The history as chat messages; consecutive assistant text + tool calls merged into one."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    messages.extend(render_group(group) for group in message_groups(items))
    return messages


def tool_to_wire(tool: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def build_body(request: ModelRequest) -> dict[str, Any]:
    # The history goes last so each request's bytes extend the previous one's (prompt caches).
    body: dict[str, Any] = {"model": request.model}
    if request.tools:
        body["tools"] = [tool_to_wire(t) for t in request.tools]
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    effort = chat_reasoning_effort(request.model, request.reasoning)
    if effort is not None:
        body["reasoning_effort"] = effort  # OpenAI's reasoning models only: others refuse it
    body.update(stream=True, stream_options={"include_usage": True})
    body.update(request.extra)
    body["messages"] = items_to_messages(request.instructions, request.items)
    return body


def encode_body(request: ModelRequest, cache: PieceCache) -> bytes:
    """`build_body(request)` as JSON bytes, each history message encoded once (`cache`)."""
    head = build_body(replace(request, items=[]))
    system = head.pop("messages")
    pieces = [dumps(m) for m in system]
    pieces += cache.encode(message_groups(request.items), render_group)
    return join_body(head, "messages", pieces)


def usage_event(usage: dict[str, Any]) -> TokenUsage:
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return TokenUsage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cached_input_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


@dataclass
class _PartialCall:
    call_id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ChatTurn:
    """Accumulates one streamed chat completion into lever events."""

    text: str = ""
    reasoning: str = ""
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    finished: bool = False
    #: "length" when the reply stopped at the output limit.
    finish_reason: str = ""

    def feed(self, chunk: dict[str, Any]) -> list[TextDelta]:
        """Take one chunk; return the deltas to show live."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        deltas: list[TextDelta] = []
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason"):
                self.finished = True
                self.finish_reason = str(choice["finish_reason"])
            deltas.extend(self._feed_delta(choice.get("delta") or {}))
        return deltas

    def _feed_delta(self, delta: dict[str, Any]) -> list[TextDelta]:
        out: list[TextDelta] = []
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thought, str) and thought:
            self.reasoning += thought
            out.append(TextDelta(delta=thought, channel="reasoning"))
        if content := delta.get("content"):
            self.text += content
            out.append(TextDelta(delta=content))
        for position, piece in enumerate(delta.get("tool_calls") or []):
            index = piece.get("index", len(self.calls) + position)
            call = self.calls.setdefault(index, _PartialCall())
            call.call_id = call.call_id or piece.get("id") or ""
            function = piece.get("function") or {}
            call.name = call.name or function.get("name") or ""
            arguments = function.get("arguments") or ""
            call.arguments += arguments if isinstance(arguments, str) else json.dumps(arguments)
        return out

    def events(self, limit: int | None = None) -> list[ModelEvent]:
        """The completed items (reasoning, text, tool calls), whether the output was cut, and
        the usage, if sent."""
        events: list[ModelEvent] = []
        if self.reasoning:
            events.append(ItemAdded(item=Reasoning(summary=self.reasoning)))
        if self.text:
            events.append(ItemAdded(item=AssistantMessage(text=self.text)))
        for index in sorted(self.calls):
            call = self.calls[index]
            call_id = call.call_id or f"call_{uuid.uuid4().hex[:24]}"
            item = ToolCall(call_id=call_id, name=call.name, arguments=call.arguments or "{}")
            events.append(ItemAdded(item=item))
        if self.finish_reason == "length":
            events.append(OutputCut(reason="length", limit=limit))
        if self.usage is not None:
            events.append(usage_event(self.usage))
        return events


class ChatClient:
    wire = "openai-chat"

    def __init__(self, http: HttpTransport) -> None:
        self.http = http
        self._pieces = PieceCache()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        turn = ChatTurn()
        done = False
        body = encode_body(request, self._pieces)
        async with aclosing(self.http.stream_sse("chat/completions", body)) as sse:
            async for _, data in sse:
                if data is DONE:
                    done = True
                    break
                assert isinstance(data, dict)
                if data.get("error"):
                    raise self.http.error(*error_details(data))
                try:
                    deltas = turn.feed(data)
                except SHAPE_ERRORS as e:
                    raise malformed_event(e) from None
                for delta in deltas:
                    yield delta
        if not (done or turn.finished):
            raise stream_cut("a finish_reason or [DONE]")
        try:
            events = turn.events(request.max_output_tokens)
        except SHAPE_ERRORS as e:
            raise malformed_event(e) from None
        for event in events:
            yield event

    async def aclose(self) -> None:
        await self.http.aclose()
