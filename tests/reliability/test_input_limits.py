"""No input crashes lever: JSON nested thousands deep from a model or a JSON-RPC client is
refused with an error its sender can read, and the run (or the server) goes on."""

from __future__ import annotations

import pytest

from lever.protocol import ItemAdded, ToolOutput
from lever.testing.fake_model import FakeModelServer

from .conftest import WIRES, run_exec

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("wire", WIRES)
def test_tool_call_with_deeply_nested_arguments_gets_a_tool_error(wire, env, work) -> None:
    # Before: RecursionError out of the turn loop, exit 1, a rollout without its end record.
    # The fake sends Anthropic's arguments as a parsed value (it must read them itself): 300 deep
    # there, still past lever's limit of 200.
    deep = "[" * 300 + "]" * 300 if wire == "anthropic" else DEEP
    script = [
        {"tool_calls": [{"name": "shell", "arguments": '{"command": ' + deep + "}"}]},
        {"text": "I will send flat arguments next time."},
    ]
    with FakeModelServer(script) as server:
        run = run_exec(server.base_url, env, work, wire=wire)
        bodies = server.bodies()
    assert run.code == 0, run.stderr
    assert run.stdout == "I will send flat arguments next time.\n"
    outputs = [
        e.item.output
        for e in run.events
        if isinstance(e, ItemAdded) and isinstance(e.item, ToolOutput)
    ]
    (output,) = outputs
    assert "nested deeper than 200 levels" in output, output
    assert len(bodies) == 2  # the model was asked again, with the error as the call's output
