"""Tool calls written as text: a fallback for small models behind local servers.

Small models often write a tool call in their reply instead of through the API: a fenced
```json block holding {"name": ..., "arguments": {...}}, Qwen's <tool_call>…</tool_call> tags, or
just a ```bash block with the command. When a reply carries no real tool call, `TextToolCalls`
reads such a block as one, if it names a tool the request offered (a shell block becomes a call
of the `shell` tool). The block is taken out of the assistant's text so the history does not
hold the call twice.

A parsed call is marked: its `call_id` starts with `text_` (visible in the event stream and the
rollout), and the optional `on_parsed` hook is told, so the session can emit an
`ErrorEvent(kind="parsed_from_text")` notice.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from lever import safe_json
from lever.models.base import ModelClient, ModelEvent, ModelRequest
from lever.models.retry import closing_stream
from lever.protocol import ItemAdded
from lever.protocol.items import AssistantMessage, Item, ToolCall

#: Prefix of the call id of every tool call read from text.
TEXT_CALL_PREFIX = "text_"
SHELL_TOOL = "shell"
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|```)", re.DOTALL)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_JSON_LANGS = {"json", "json5", "tool_call", "tool", ""}
_SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh"}

OnParsed = Callable[[ToolCall, str], None]


@dataclass(frozen=True)
class ParsedCalls:
    calls: list[ToolCall]
    #: The reply's text without the blocks that became calls.
    remaining: str


def _new_id() -> str:
    return f"{TEXT_CALL_PREFIX}{uuid.uuid4().hex[:24]}"


def _call_from_json(text: str, tools: set[str]) -> ToolCall | None:
    """A call from {"name": ..., "arguments": ...} naming an offered tool; else None."""
    try:
        value = safe_json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name")
    arguments: Any = value.get("arguments", value.get("parameters", {}))
    if not isinstance(name, str) or name not in tools:
        return None
    if isinstance(arguments, str):
        try:
            arguments = safe_json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(call_id=_new_id(), name=name, arguments=json.dumps(arguments))


def _shell_call(script: str) -> ToolCall | None:
    # A console transcript's prompt is not part of the command.
    lines = [re.sub(r"^\s*\$ ", "", line) for line in script.strip().splitlines()]
    command = "\n".join(lines).strip()
    if not command:
        return None
    return ToolCall(call_id=_new_id(), name=SHELL_TOOL, arguments=json.dumps({"command": command}))


#: Characters of prose that may follow a lone shell block for it still to count as a call.
_SHORT_REMARK = 160


def parse_text_calls(text: str, tools: set[str]) -> ParsedCalls:
    """The tool calls written in `text`, for the offered `tools`; none when nothing fits.

    JSON calls (fenced or tagged) are taken wherever they are. A shell block is taken only when
    it is the reply's one code block and at most a short remark follows it (small models write
    "Here's how: ```sh wc -l README.md``` This will print the count."); a block followed by more
    prose is part of an answer, not a request to run it.
    """
    calls: list[ToolCall] = []
    spans: list[tuple[int, int]] = []
    blocks = list(_FENCE.finditer(text))
    for match in blocks:
        if match.group(1).lower() in _JSON_LANGS:
            call = _call_from_json(match.group(2).strip(), tools)
            if call is not None:
                calls.append(call)
                spans.append(match.span())
    for match in _TAGGED.finditer(text):
        call = _call_from_json(_unfence(match.group(1)), tools)
        if call is not None and not _inside(match.span(), spans):
            calls.append(call)
            spans.append(match.span())
    if not calls and text.strip().startswith("{"):
        call = _call_from_json(text.strip(), tools)
        if call is not None:
            calls.append(call)
            spans.append((0, len(text)))
    if not calls and SHELL_TOOL in tools and len(blocks) == 1:
        only = blocks[0]
        trailing = text[only.end() :].strip()
        if only.group(1).lower() in _SHELL_LANGS and len(trailing) <= _SHORT_REMARK:
            call = _shell_call(only.group(2))
            if call is not None:
                calls.append(call)
                spans.append(only.span())
    return ParsedCalls(calls, _without(text, spans))


def _unfence(text: str) -> str:
    match = _FENCE.fullmatch(text.strip())
    return match.group(2).strip() if match else text.strip()


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def without_empty_optionals(call: ToolCall, request: ModelRequest) -> ToolCall:
    """Drop optional arguments given as "" or null.

    llama-server's grammar for tool calls leads small models to fill in every property of the
    schema, the optional ones as "" (e.g. shell's `process_id`), which tools then read as given.
    """
    schema = next((t.parameters for t in request.tools if t.name == call.name), None)
    try:
        arguments = safe_json.loads(call.arguments)
    except json.JSONDecodeError:
        return call
    if schema is None or not isinstance(arguments, dict):
        return call
    required = set(schema.get("required") or [])
    kept = {k: v for k, v in arguments.items() if k in required or v not in ("", None)}
    if kept == arguments:
        return call
    return call.model_copy(update={"arguments": json.dumps(kept)})


class TextToolCalls:
    """Wraps a `ModelClient`; itself a `ModelClient` (wrap it inside `RetryingClient`)."""

    def __init__(self, inner: ModelClient, on_parsed: OnParsed | None = None) -> None:
        self.inner = inner
        self.wire = inner.wire
        self.on_parsed = on_parsed

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        # Assistant text is held back to the end of the reply: only then is it known whether
        # the reply had a real tool call. Everything else passes through as it comes.
        held: list[AssistantMessage] = []
        had_call = False
        async with closing_stream(self.inner.stream(request)) as events:
            async for event in events:
                if isinstance(event, ItemAdded) and isinstance(event.item, AssistantMessage):
                    held.append(event.item)
                    continue
                if isinstance(event, ItemAdded) and isinstance(event.item, ToolCall):
                    had_call = True
                    event = ItemAdded(item=without_empty_optionals(event.item, request))
                yield event
        tools = {tool.name for tool in request.tools}
        for item in held if had_call else self._with_calls(held, tools):
            yield ItemAdded(item=item)

    def _with_calls(self, messages: list[AssistantMessage], tools: set[str]) -> list[Item]:
        items: list[Item] = []
        for message in messages:
            parsed = parse_text_calls(message.text, tools)
            if not parsed.calls:
                items.append(message)
                continue
            if parsed.remaining:
                items.append(message.model_copy(update={"text": parsed.remaining}))
            for call in parsed.calls:
                if self.on_parsed is not None:
                    self.on_parsed(call, message.text)
                items.append(call)
        return items

    async def aclose(self) -> None:
        await self.inner.aclose()
