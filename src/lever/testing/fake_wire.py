"""Per-protocol rendering for the fake model server: one scripted reply, three wire formats.

This module has what they share and the two OpenAI protocols; Anthropic Messages is in
`lever.testing.fake_wire_anthropic`.

Each renderer takes a `Reply` (what the scripted "model" says) plus the request body and turns it
into exactly what the real API would send: a JSON object for non-streaming requests, or a list of
server-sent events (already framed as bytes) for streaming ones. Field names, event names and
event order follow the real OpenAI Responses, Chat Completions and Anthropic Messages APIs, so
lever's clients are tested against the real shapes (and the official SDKs can check that).

Usage numbers in a `Reply` use lever's meaning (`TokenUsage`): `input_tokens` is the whole prompt,
`cached_input_tokens` the part of it served from cache. Each protocol reports that the way the
real API does; in particular Anthropic's `input_tokens` excludes cache reads, which are reported
separately as `cache_read_input_tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Makes a fresh id for a prefix, e.g. "call_" -> "call_1", "call_2", ... (counter per prefix).
NewId = Callable[[str], str]

JSON = dict[str, Any]


@dataclass(frozen=True)
class ToolCallOut:
    name: str
    #: The raw arguments text sent on the wire (JSON, or deliberately broken text).
    arguments: str
    #: None means "generate one" ("call_N" on OpenAI protocols, "toolu_N" on Anthropic).
    call_id: str | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    model: str
    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallOut] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    #: The reply stopped at the output-token limit (script key `cut`).
    cut: bool = False

    @property
    def message_text(self) -> str | None:
        """The text of the assistant message, or None when no message item is sent at all.

        A turn with neither text nor tool calls still answers with an (empty) message, as a
        real model that says nothing would.
        """
        if self.text is None and not self.tool_calls:
            return ""
        return self.text


def split_pieces(text: str, n: int = 3) -> list[str]:
    """Split `text` into up to `n` non-empty pieces of similar size (fewer if it is short).

    Real servers send text and tool arguments as many small deltas; clients must join them.
    """
    if not text:
        return []
    n = max(1, min(n, len(text)))
    size, rest = divmod(len(text), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < rest else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def sse(data: JSON | str, event: str | None = None) -> bytes:
    """Frame one server-sent event. `data` dicts are compact JSON on a single line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def encrypted_reasoning(summary: str) -> str:
    """A deterministic opaque blob standing in for Responses `encrypted_content`."""
    return "gAAAA" + base64.urlsafe_b64encode(f"fake-reasoning:{summary}".encode()).decode()


def thinking_signature(thinking: str) -> str:
    """A deterministic opaque blob standing in for an Anthropic thinking `signature`."""
    digest = hashlib.sha256(thinking.encode()).digest()
    return base64.b64encode(b"fake-signature:" + digest).decode()


# --------------------------------------------------------------------------- OpenAI Responses


def _responses_items(reply: Reply, body: JSON, new_id: NewId) -> list[JSON]:
    """The completed output items, in the order the model emits them."""
    items: list[JSON] = []
    if reply.reasoning is not None:
        item: JSON = {
            "id": new_id("rs_"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": reply.reasoning}],
        }
        # Only sent when asked for, as the real API does (needed for stateless, store=false use).
        if "reasoning.encrypted_content" in (body.get("include") or []):
            item["encrypted_content"] = encrypted_reasoning(reply.reasoning)
        items.append(item)
    text = reply.message_text
    if text is not None:
        items.append(
            {
                "id": new_id("msg_"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [_output_text(text)],
            }
        )
    custom = _custom_tool_names(body)
    for call in reply.tool_calls:
        if call.name in custom:
            items.append(_custom_call(call.name, call.arguments, call.call_id, new_id))
            continue
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments,
                "call_id": call.call_id or new_id("call_"),
                "name": call.name,
            }
        )
    return items


def _custom_tool_names(body: JSON) -> set[str]:
    """Tools the request declares as freeform (`{"type": "custom"}`): the model calls those
    with raw text, so a scripted call to one becomes a `custom_tool_call`."""
    tools = body.get("tools") or []
    return {str(t.get("name")) for t in tools if isinstance(t, dict) and t.get("type") == "custom"}


def _custom_call(name: str, arguments: str, call_id: str | None, new_id: NewId) -> JSON:
    """A scripted call's `input` argument (or its raw arguments text) as the raw input."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        value = None
    raw = value.get("input") if isinstance(value, dict) else None
    return {
        "id": new_id("ctc_"),
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": call_id or new_id("call_"),
        "name": name,
        "input": raw if isinstance(raw, str) else arguments,
    }


def _output_text(text: str) -> JSON:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _responses_usage(u: Usage) -> JSON:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_input_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def _response_object(
    reply: Reply, body: JSON, resp_id: str, created: int, status: str, output: list[JSON]
) -> JSON:
    """The `response` object; request parameters are echoed back like the real API does."""
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": reply.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": _responses_usage(reply.usage) if status != "in_progress" else None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def responses_json(reply: Reply, body: JSON, new_id: NewId) -> JSON:
    items = _responses_items(reply, body, new_id)
    return _response_object(reply, body, new_id("resp_"), int(time.time()), "completed", items)


def responses_sse(reply: Reply, body: JSON, new_id: NewId) -> list[bytes]:
    items = _responses_items(reply, body, new_id)
    resp_id, created = new_id("resp_"), int(time.time())
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        # Every Responses event carries its type and a stream-wide sequence number.
        data = {"type": kind, "sequence_number": len(events), **fields}
        events.append(sse(data, event=kind))

    for kind in ("response.created", "response.in_progress"):
        emit(kind, response=_response_object(reply, body, resp_id, created, "in_progress", []))

    for index, item in enumerate(items):
        ids = {"item_id": item["id"], "output_index": index}
        if item["type"] == "reasoning":
            text = item["summary"][0]["text"]
            # The encrypted blob is only guaranteed complete on output_item.done.
            emit("response.output_item.added", output_index=index, item={**item, "summary": []})
            part = {"type": "summary_text", "text": ""}
            emit("response.reasoning_summary_part.added", **ids, summary_index=0, part=part)
            for piece in split_pieces(text):
                emit("response.reasoning_summary_text.delta", **ids, summary_index=0, delta=piece)
            emit("response.reasoning_summary_text.done", **ids, summary_index=0, text=text)
            part = {"type": "summary_text", "text": text}
            emit("response.reasoning_summary_part.done", **ids, summary_index=0, part=part)
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            added = {**item, "status": "in_progress", "content": []}
            emit("response.output_item.added", output_index=index, item=added)
            part_ids = {**ids, "content_index": 0}
            emit("response.content_part.added", **part_ids, part=_output_text(""))
            for piece in split_pieces(text):
                emit("response.output_text.delta", **part_ids, delta=piece, logprobs=[])
            emit("response.output_text.done", **part_ids, text=text, logprobs=[])
            emit("response.content_part.done", **part_ids, part=_output_text(text))
        elif item["type"] == "custom_tool_call":
            emit("response.output_item.added", output_index=index, item={**item, "input": ""})
            for piece in split_pieces(item["input"]):
                emit("response.custom_tool_call_input.delta", **ids, delta=piece)
            emit("response.custom_tool_call_input.done", **ids, input=item["input"])
        else:  # function_call
            added = {**item, "status": "in_progress", "arguments": ""}
            emit("response.output_item.added", output_index=index, item=added)
            for piece in split_pieces(item["arguments"]):
                emit("response.function_call_arguments.delta", **ids, delta=piece)
            emit("response.function_call_arguments.done", **ids, arguments=item["arguments"])
        emit("response.output_item.done", output_index=index, item=item)

    if reply.cut:
        # What the API sends when `max_output_tokens` (or the model's own cap) was reached.
        final = _response_object(reply, body, resp_id, created, "incomplete", items)
        final["incomplete_details"] = {"reason": "max_output_tokens"}
        emit("response.incomplete", response=final)
        return events
    final = _response_object(reply, body, resp_id, created, "completed", items)
    emit("response.completed", response=final)
    return events


# --------------------------------------------------------------------------- Chat Completions


def _chat_usage(u: Usage) -> JSON:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def _chat_finish_reason(reply: Reply) -> str:
    if reply.cut:
        return "length"
    return "tool_calls" if reply.tool_calls else "stop"


def chat_json(reply: Reply, body: JSON, new_id: NewId) -> JSON:
    # With tool calls and no text, the real API sends `"content": null`.
    message: JSON = {"role": "assistant", "content": reply.message_text, "refusal": None}
    if reply.reasoning is not None:
        # Not OpenAI's own field: what vLLM, DeepSeek and llama.cpp send for reasoning text.
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id or new_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.tool_calls
        ]
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _chat_finish_reason(reply),
            }
        ],
        "usage": _chat_usage(reply.usage),
    }


def chat_sse(reply: Reply, body: JSON, new_id: NewId) -> list[bytes]:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    head: JSON = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": reply.model,
        "system_fingerprint": "fp_fake",
    }
    events: list[bytes] = []

    def chunk(delta: JSON, finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        data: JSON = {**head, "choices": [choice]}
        if include_usage:
            # OpenAI sends `"usage": null` on every chunk but the last when usage is requested.
            data["usage"] = None
        events.append(sse(data))

    chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in split_pieces(reply.reasoning or ""):
        chunk({"reasoning_content": piece})
    for piece in split_pieces(reply.text or ""):
        chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        # The first chunk of a call names it; the arguments follow in several pieces, each
        # identified only by `index`, as OpenAI and vLLM stream them.
        first = {
            "index": index,
            "id": call.call_id or new_id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        chunk({"tool_calls": [first]})
        for piece in split_pieces(call.arguments):
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    chunk({}, _chat_finish_reason(reply))
    if include_usage:
        events.append(sse({**head, "choices": [], "usage": _chat_usage(reply.usage)}))
    events.append(sse("[DONE]"))
    return events


# --------------------------------------------------------------------------- errors

_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "tokens",
}

_OPENAI_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


def openai_error(status: int, message: str, code: str | None = None) -> JSON:
    """`{"error": {...}}` as OpenAI (and vLLM, llama.cpp, ... in OpenAI mode) send it."""
    kind = _OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
    return {
        "error": {
            "message": message,
            "type": kind,
            "param": None,
            "code": code or _OPENAI_ERROR_CODES.get(status),
        }
    }


def compact_json(turn: Mapping[str, Any], body: JSON, new_id: Callable[[str], str]) -> JSON:
    """A `POST /v1/responses/compact` reply: the input's user messages, then one opaque item
    whose content is the turn's text (so tests can see which summary the client sent back)."""
    kept = [
        item
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") == "user"
    ]
    opaque = {
        "id": new_id("cmp"),
        "type": "compaction",
        "encrypted_content": "opaque:" + str(turn.get("text", "")),
    }
    return {
        "id": new_id("resp"),
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": [*kept, opaque],
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    }
