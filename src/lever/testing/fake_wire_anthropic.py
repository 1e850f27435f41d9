"""Anthropic Messages rendering for the fake model server (see `lever.testing.fake_wire`).

Usage: Anthropic's `input_tokens` counts only the uncached part of the prompt; cache reads are
reported separately as `cache_read_input_tokens` (so input + cache reads = lever's input_tokens).
"""

from __future__ import annotations

import json
from typing import Any

from lever.testing.fake_wire import JSON, NewId, Reply, Usage, split_pieces, sse, thinking_signature


def _anthropic_usage(u: Usage, output_tokens: int) -> JSON:
    return {
        # Anthropic's input_tokens counts only the uncached part of the prompt.
        "input_tokens": max(0, u.input_tokens - u.cached_input_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached_input_tokens,
        "output_tokens": output_tokens,
    }


def _anthropic_input(arguments: str) -> Any:
    """A tool_use `input` object. Deliberately broken arguments are passed on as the raw text."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _anthropic_blocks(reply: Reply, new_id: NewId) -> list[JSON]:
    blocks: list[JSON] = []
    if reply.reasoning is not None:
        blocks.append(
            {
                "type": "thinking",
                "thinking": reply.reasoning,
                "signature": thinking_signature(reply.reasoning),
            }
        )
    text = reply.message_text
    if text is not None:
        blocks.append({"type": "text", "text": text})
    for call in reply.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.call_id or new_id("toolu_"),
                "name": call.name,
                "input": _anthropic_input(call.arguments),
                # Kept for streaming (the exact text to send); removed before it goes out.
                "_arguments": call.arguments,
            }
        )
    return blocks


def _anthropic_message(
    reply: Reply, msg_id: str, content: list[JSON], stop_reason: str | None, usage: JSON
) -> JSON:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def _stop_reason(reply: Reply) -> str:
    if reply.cut:
        return "max_tokens"
    return "tool_use" if reply.tool_calls else "end_turn"


def anthropic_json(reply: Reply, body: JSON, new_id: NewId) -> JSON:
    blocks = [
        {k: v for k, v in b.items() if k != "_arguments"} for b in _anthropic_blocks(reply, new_id)
    ]
    usage = _anthropic_usage(reply.usage, reply.usage.output_tokens)
    return _anthropic_message(reply, new_id("msg_"), blocks, _stop_reason(reply), usage)


def anthropic_sse(reply: Reply, body: JSON, new_id: NewId) -> list[bytes]:
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append(sse({"type": kind, **fields}, event=kind))

    blocks = _anthropic_blocks(reply, new_id)
    # message_start reports the prompt and a token or so of output; the final (cumulative)
    # numbers come in message_delta.
    start_usage = _anthropic_usage(reply.usage, min(1, reply.usage.output_tokens))
    emit("message_start", message=_anthropic_message(reply, new_id("msg_"), [], None, start_usage))
    emit("ping")
    for index, block in enumerate(blocks):
        if block["type"] == "thinking":
            emit("content_block_start", index=index, content_block=_empty_thinking())
            for piece in split_pieces(block["thinking"]):
                delta = {"type": "thinking_delta", "thinking": piece}
                emit("content_block_delta", index=index, delta=delta)
            delta = {"type": "signature_delta", "signature": block["signature"]}
            emit("content_block_delta", index=index, delta=delta)
        elif block["type"] == "text":
            emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
            for piece in split_pieces(block["text"]):
                emit(
                    "content_block_delta", index=index, delta={"type": "text_delta", "text": piece}
                )
        else:  # tool_use: the input arrives as JSON text in pieces, starting with an empty one.
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            emit("content_block_start", index=index, content_block=start)
            for piece in ["", *split_pieces(block["_arguments"])]:
                delta = {"type": "input_json_delta", "partial_json": piece}
                emit("content_block_delta", index=index, delta=delta)
        emit("content_block_stop", index=index)
    emit(
        "message_delta",
        delta={"stop_reason": _stop_reason(reply), "stop_sequence": None},
        usage=_anthropic_usage(reply.usage, reply.usage.output_tokens),
    )
    emit("message_stop")
    return events


def _empty_thinking() -> JSON:
    return {"type": "thinking", "thinking": "", "signature": ""}


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str, request_id: str | None = None) -> JSON:
    """`{"type": "error", "error": {...}}` as the Anthropic API sends it (it has no `code`)."""
    kind = _ANTHROPIC_ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    data: JSON = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        data["request_id"] = request_id
    return data
