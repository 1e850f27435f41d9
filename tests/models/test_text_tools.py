"""The text fallback for tool calls: parsing, and the wrapper over the three real clients."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lever.models.base import ModelRequest, ToolSchema
from lever.models.factory import make_client
from lever.models.text_tools import TEXT_CALL_PREFIX, TextToolCalls, parse_text_calls
from lever.protocol import ItemAdded, TokenUsage
from lever.protocol.items import AssistantMessage, ToolCall, UserMessage
from lever.testing.fake_model import FakeModelServer

TOOLS = {"shell", "apply_patch"}
WIRES = ["openai-responses", "openai-chat", "anthropic"]


def args(call: ToolCall) -> Any:
    return json.loads(call.arguments)


def test_fenced_json_block_becomes_a_call_and_leaves_the_text() -> None:
    text = (
        "I will count the lines.\n```json\n"
        '{"name": "shell", "arguments": {"command": "wc -l README.md"}}\n```'
    )
    parsed = parse_text_calls(text, TOOLS)
    assert [c.name for c in parsed.calls] == ["shell"]
    assert args(parsed.calls[0]) == {"command": "wc -l README.md"}
    assert parsed.calls[0].call_id.startswith(TEXT_CALL_PREFIX)
    assert parsed.remaining == "I will count the lines."


def test_arguments_with_newlines_and_indentation_and_as_a_json_string() -> None:
    block = '{\n  "name": "shell",\n  "arguments": {\n    "command": ["ls", "-la"]\n  }\n}'
    assert args(parse_text_calls(f"```json\n{block}\n```", TOOLS).calls[0]) == {
        "command": ["ls", "-la"]
    }
    as_string = json.dumps({"name": "shell", "arguments": json.dumps({"command": "pwd"})})
    assert args(parse_text_calls(f"```\n{as_string}\n```", TOOLS).calls[0]) == {"command": "pwd"}


def test_tool_call_tags_and_a_bare_json_reply() -> None:
    tagged = '<tool_call>\n{"name": "shell", "arguments": {"command": "ls"}}\n</tool_call>'
    assert args(parse_text_calls(tagged, TOOLS).calls[0]) == {"command": "ls"}
    bare = '{"name": "shell", "parameters": {"command": "ls"}}'
    parsed = parse_text_calls(bare, TOOLS)
    assert args(parsed.calls[0]) == {"command": "ls"}
    assert parsed.remaining == ""


def test_several_json_blocks_give_several_calls_in_order() -> None:
    one = '```json\n{"name": "shell", "arguments": {"command": "ls"}}\n```'
    two = '```json\n{"name": "shell", "arguments": {"command": "pwd"}}\n```'
    calls = parse_text_calls(f"{one}\nthen\n{two}", TOOLS).calls
    assert [args(c)["command"] for c in calls] == ["ls", "pwd"]
    assert len({c.call_id for c in calls}) == 2


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "browser", "arguments": {"url": "x"}}\n```',  # not an offered tool
        '```json\n{"name": "shell", "arguments": [1, 2]}\n```',  # arguments not an object
        '```json\n{"name": "shell", "arguments": {"command": \n```',  # broken JSON
        '```json\n{"answer": 42}\n```',  # JSON, but not a call
        "The file has 12 lines.",
        '```python\nprint("hi")\n```',
    ],
)
def test_what_is_not_a_call(text: str) -> None:
    parsed = parse_text_calls(text, TOOLS)
    assert parsed.calls == []
    assert parsed.remaining == text.strip()


def test_a_bash_block_ending_the_reply_is_a_shell_call() -> None:
    parsed = parse_text_calls("Let me check:\n```bash\n$ wc -l README.md\n```\n", TOOLS)
    assert [c.name for c in parsed.calls] == ["shell"]
    assert args(parsed.calls[0]) == {"command": "wc -l README.md"}
    multi = parse_text_calls("```sh\ncd src\nls\n```", TOOLS).calls[0]
    assert args(multi) == {"command": "cd src\nls"}


def test_a_lone_shell_block_with_a_short_remark_is_a_call() -> None:
    # What the real 0.5B writes with the GGUF's own template (seen on llama-server).
    real = (
        "To determine the number of lines in the README.md file, you can use the `wc -l` command "
        "in the shell. Here's how you can do it:\n\n```sh\nwc -l README.md\n```\n\n"
        "This command will output the number of lines in the README.md file."
    )
    (call,) = parse_text_calls(real, TOOLS).calls
    assert json.loads(call.arguments) == {"command": "wc -l README.md"}


def test_a_shell_block_inside_a_longer_answer_is_an_example_not_a_call() -> None:
    answer = (
        "It has 12 lines. You can check with:\n```bash\nwc -l README.md\n```\n"
        + "That counts newline characters, so a last line without one is not counted. " * 3
    )
    assert parse_text_calls(answer, TOOLS).calls == []
    two = "```bash\nls\n```\nand\n```bash\npwd\n```"
    assert parse_text_calls(two, TOOLS).calls == []
    assert parse_text_calls("```bash\nls\n```", {"apply_patch"}).calls == []  # no shell offered


# -- the wrapper over real clients (fake server on 127.0.0.1) -----------------------------------

SHELL = ToolSchema(
    "shell", "Run a command.", {"type": "object", "properties": {"command": {"type": "string"}}}
)


def request() -> ModelRequest:
    return ModelRequest(
        instructions="Be brief.",
        tools=[SHELL],
        items=[UserMessage(text="How many lines?")],
        model="fake-model",
    )


async def collect(client: TextToolCalls) -> list[Any]:
    try:
        return [e async for e in client.stream(request()) if not hasattr(e, "delta")]
    finally:
        await client.aclose()


@pytest.mark.parametrize("wire", WIRES)
async def test_wrapper_turns_a_text_call_into_a_tool_call(wire: str) -> None:
    text = 'Counting.\n```json\n{"name": "shell", "arguments": {"command": "wc -l R"}}\n```'
    notices: list[tuple[ToolCall, str]] = []
    with FakeModelServer([{"text": text}]) as server:
        client = TextToolCalls(
            make_client(wire, server.base_url, None), on_parsed=lambda c, t: notices.append((c, t))
        )
        events = await collect(client)
    items = [e.item for e in events if isinstance(e, ItemAdded)]
    assert items[0] == AssistantMessage(text="Counting.", id=items[0].id)
    assert isinstance(items[1], ToolCall) and items[1].name == "shell"
    assert json.loads(items[1].arguments) == {"command": "wc -l R"}
    assert [c for c, _ in notices] == [items[1]] and notices[0][1] == text
    assert any(isinstance(e, TokenUsage) for e in events)


@pytest.mark.parametrize("wire", WIRES)
async def test_wrapper_leaves_real_calls_and_plain_answers_alone(wire: str) -> None:
    real = {
        "text": '```json\n{"name": "shell", "arguments": {"command": "x"}}\n```',
        "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}, "call_id": "call_1"}],
    }
    with FakeModelServer([real, {"text": "It has 3 lines."}]) as server:
        first = await collect(TextToolCalls(make_client(wire, server.base_url, None)))
        second = await collect(TextToolCalls(make_client(wire, server.base_url, None)))
    calls = [e.item for e in first if isinstance(e, ItemAdded) and isinstance(e.item, ToolCall)]
    assert [c.call_id for c in calls] == ["call_1"]  # no second call read from the text
    answers = [e.item for e in second if isinstance(e, ItemAdded)]
    assert [type(i) for i in answers] == [AssistantMessage]


@pytest.mark.parametrize("wire", WIRES)
async def test_optional_arguments_filled_in_empty_are_dropped(wire: str) -> None:
    """llama-server's grammar makes small models fill every property, optional ones as ""."""
    schema = ToolSchema(
        "shell",
        "Run a command.",
        {
            "type": "object",
            "properties": {"command": {"type": "string"}, "process_id": {"type": "string"}},
            "required": ["command"],
        },
    )
    filled = {"command": "ls", "process_id": "", "stdin": None, "kill": False}
    turn = {"tool_calls": [{"name": "shell", "arguments": filled, "call_id": "call_1"}]}
    with FakeModelServer([turn]) as server:
        client = TextToolCalls(make_client(wire, server.base_url, None))
        request = ModelRequest("", [schema], [UserMessage(text="ls")], "fake-model")
        try:
            events = [e async for e in client.stream(request)]
        finally:
            await client.aclose()
    call = next(e.item for e in events if isinstance(e, ItemAdded))
    assert json.loads(call.arguments) == {"command": "ls", "kill": False}
