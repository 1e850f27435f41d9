"""What the fake model server checks in every request, as the real APIs do.

- **Pairing** (DESIGN.md §11): each tool call has exactly one output, no output lacks its call —
  on all three wires. The real APIs refuse such a request with a 400, and so does the fake (with
  the provider's own wording after "fake model: pairing violated:"); it also records the
  violation, and `lever.testing.pytest_plugin` fails the test that caused it.
- **Context limit** (opt-in, `FakeModelServer(context_limit=N)`): a request over N tokens is
  refused with the provider's real context-length error, every time — as OpenAI does — not just
  once. Tokens are counted as the request body's bytes / 4 (the fake's usage reports count the
  same way), or by a given counting function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lever.testing.fake_wire import JSON, sse

#: How a request's tokens are counted: from the body exactly as received.
TokenCounter = Callable[[bytes], int]

#: The context-length error forms the fake can answer with (Chat Completions servers differ).
LIMIT_STYLES = ("openai", "vllm", "llama.cpp", "in-stream")

PAIRING_PREFIX = "fake model: pairing violated: "


def count_tokens(raw: bytes) -> int:
    return len(raw) // 4


# --------------------------------------------------------------------------- pairing


def pairing_violations(protocol: str | None, body: JSON) -> list[str]:
    """The provider's complaints about unpaired tool calls in `body` ([] when all is well)."""
    if protocol == "openai-responses":
        items = body.get("input")
        return _responses_pairing(items) if isinstance(items, list) else []
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    if protocol == "openai-chat":
        return _chat_pairing(messages)
    if protocol == "anthropic":
        return _anthropic_pairing(messages)
    return []


_RESPONSES_CALLS = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
}
_RESPONSES_OUTPUTS = {output: call for call, output in _RESPONSES_CALLS.items()}


def _responses_pairing(items: list[Any]) -> list[str]:
    calls: dict[str, str] = {}  # call_id -> call type, in order
    answered: set[str] = set()
    problems: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind, call_id = item.get("type"), str(item.get("call_id"))
        if kind in _RESPONSES_CALLS:
            if call_id in calls:
                problems.append(f"Duplicate item found with id {call_id}.")
            calls[call_id] = kind
        elif kind in _RESPONSES_OUTPUTS:
            if calls.get(call_id) != _RESPONSES_OUTPUTS[kind]:
                problems.append(f"No tool call found for {kind} with call_id {call_id}.")
                continue
            if call_id in answered:
                problems.append(f"Duplicate {kind} for call_id {call_id}.")
            answered.add(call_id)
    problems += [
        f"No tool output found for {kind} {cid}."
        for cid, kind in calls.items()
        if cid not in answered
    ]
    return problems


def _chat_pairing(messages: list[Any]) -> list[str]:
    problems: list[str] = []
    open_ids: list[str] = []  # ids of the last assistant message's calls, while tool messages run
    answered: set[str] = set()

    def close() -> None:
        missing = [i for i in open_ids if i not in answered]
        if missing:
            problems.append(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(missing)}"
            )
        open_ids.clear()
        answered.clear()

    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            call_id = str(message.get("tool_call_id"))
            if call_id not in open_ids or call_id in answered:
                problems.append(
                    f"Invalid parameter: messages[{index}]: messages with role 'tool' must be a "
                    "response to a preceding message with 'tool_calls' "
                    f"(tool_call_id {call_id})."
                )
            answered.add(call_id)
            continue
        close()
        if role == "assistant":
            calls = message.get("tool_calls") or []
            open_ids.extend(str(c.get("id")) for c in calls if isinstance(c, dict))
    close()
    return problems


def _blocks(message: Any, kind: str) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _anthropic_pairing(messages: list[Any]) -> list[str]:
    problems: list[str] = []
    previous_uses: list[str] = []
    for index, message in enumerate(messages):
        results = [str(b.get("tool_use_id")) for b in _blocks(message, "tool_result")]
        unexpected = [r for r in results if r not in previous_uses]
        duplicates = {r for r in results if results.count(r) > 1}
        if unexpected or duplicates:
            problems.append(
                f"messages.{index}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(unexpected or sorted(duplicates))}. Each `tool_result` block must "
                "have a corresponding `tool_use` block in the previous message."
            )
        missing = [u for u in previous_uses if u not in results]
        if missing:
            problems.append(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        previous_uses = [str(b.get("id")) for b in _blocks(message, "tool_use")]
    if previous_uses:
        problems.append(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` "
            f"blocks immediately after: {', '.join(previous_uses)}. Each `tool_use` block must "
            "have a corresponding `tool_result` block in the next message."
        )
    return problems


# --------------------------------------------------------------------------- context limit


def context_error(protocol: str, style: str, tokens: int, limit: int) -> tuple[int, JSON]:
    """(status, body) of the provider's refusal of a `tokens`-token request over `limit`."""
    if protocol == "anthropic":
        message = f"prompt is too long: {tokens} tokens > {limit} maximum"
        return 400, {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
        }
    if protocol == "openai-responses":
        return 400, {"error": _responses_context_error()}
    if style == "vllm":
        message = (
            f"This model's maximum context length is {limit} tokens. However, your request has "
            f"{tokens} input tokens. Please reduce the length of the input messages."
        )
        return 400, {
            "error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}
        }
    if style == "llama.cpp":
        message = (
            f"request ({tokens} tokens) exceeds the available context size ({limit} tokens), "
            "try increasing it"
        )
        error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
        return 400, {"error": {**error, "n_prompt_tokens": tokens, "n_ctx": limit}}
    message = (
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {tokens} tokens. Please reduce the length of the messages."
    )
    error = {"message": message, "type": "invalid_request_error", "param": "messages"}
    return 400, {"error": {**error, "code": "context_length_exceeded"}}


def _responses_context_error() -> JSON:
    # The Responses API does not say the limit: the client must find it some other way.
    return {
        "message": "Your input exceeds the context window of this model. "
        "Please adjust your input and try again.",
        "type": "invalid_request_error",
        "param": "input",
        "code": "context_length_exceeded",
    }


def responses_failed_stream(body: JSON, new_id: Callable[[str], str]) -> list[bytes]:
    """The Responses API's other form: the stream starts, then `response.failed` says it."""
    response: JSON = {
        "id": new_id("resp_"),
        "object": "response",
        "status": "in_progress",
        "model": body.get("model"),
        "output": [],
        "error": None,
    }
    failed = {**response, "status": "failed", "error": _responses_context_error()}
    created = {"type": "response.created", "sequence_number": 0, "response": response}
    end = {"type": "response.failed", "sequence_number": 1, "response": failed}
    return [sse(created, event="response.created"), sse(end, event="response.failed")]


# --------------------------------------------------------------------------- test hook

#: The fake servers made since the current test began (None outside a test): the pytest plugin
#: checks each one's violations when the test ends.
_watched: list[Any] | None = None


def watch() -> list[Any]:
    global _watched
    _watched = []
    return _watched


def unwatch() -> None:
    global _watched
    _watched = None


def watched() -> list[Any]:
    return list(_watched or [])


def register(server: Any) -> None:
    if _watched is not None:
        _watched.append(server)


def describe(violations: list[tuple[int, str, str]]) -> str:
    lines = [f"  request #{index} ({path}): {message}" for index, path, message in violations]
    return (
        "the fake model server received requests that break the tool-call pairing:\n"
        + "\n".join(lines)
    )
