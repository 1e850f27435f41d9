"""MCP client: a real MCP server (the SDK's, over stdio) plugged into a lever session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lever.mcp.config import McpConfigError, parse_server, parse_servers
from lever.mcp.tools import MAX_NAME, exposed_name
from lever.protocol import (
    ApprovalDecided,
    ApprovalRequested,
    ErrorEvent,
    SessionStarted,
    ToolOutput,
)
from lever.protocol.events import ItemAdded

from ..agent.conftest import assert_one_output_per_call
from .conftest import demo_table, run_mcp_turn, tool_names


def call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments, "call_id": call_id}]}


def outputs(events: list[Any]) -> dict[str, ToolOutput]:
    return {
        e.item.call_id: e.item
        for e in events
        if isinstance(e, ItemAdded) and isinstance(e.item, ToolOutput)
    }


async def test_tools_listed_call_approved_call_denied_broken_server_reported(
    tmp_path: Path, lever_home: Path
) -> None:
    marker = tmp_path / "marker.txt"
    script = [
        call("demo__add", {"a": 2, "b": 3}, "call_add"),
        call("demo__write_file", {"path": str(marker), "text": "x"}, "call_write"),
        {"text": "2 + 3 = 5; the write was denied."},
    ]
    asked: list[ApprovalRequested] = []

    async def decide(request: ApprovalRequested) -> Any:
        asked.append(request)
        return "approve_once" if request.command and request.command[0] == "demo__add" else "deny"

    servers = {"demo": demo_table(), "broken": {"command": str(tmp_path / "no-such-command")}}
    run = await run_mcp_turn(
        script,
        tmp_path,
        servers,
        "add 2 and 3, then write a file",
        policy="on-request",
        decide=decide,
    )

    assert run.finished.reason == "done"
    bodies, events = run.bodies, run.events
    # Listed before the first request, in every request the same.
    names = tool_names(bodies[0])
    assert {"demo__add", "demo__echo", "demo__write_file", "demo__slow"} <= set(names)
    assert not [name for name in names if name.startswith("broken")]
    assert all(tool_names(body) == names for body in bodies)
    add_schema = next(t for t in bodies[0]["tools"] if t["function"]["name"] == "demo__add")
    assert add_schema["function"]["parameters"]["required"] == ["a", "b"]
    # The broken server is reported, after session_started, and the session went on.
    assert isinstance(events[0], SessionStarted)
    notices = [e for e in events if isinstance(e, ErrorEvent) and e.kind == "mcp"]
    assert len(notices) == 1 and "'broken'" in notices[0].message
    assert "command not found" in notices[0].message
    # Approved: ran on the server.  Denied: never reached it.
    assert [r.kind for r in asked] == ["mcp", "mcp"]
    decided = [e.decision for e in events if isinstance(e, ApprovalDecided)]
    assert decided == ["approve_once", "deny"]
    results = outputs(events)
    assert results["call_add"].output == "5" and not results["call_add"].is_error
    assert results["call_write"].is_error and "denied" in results["call_write"].output
    assert not marker.exists()
    assert_one_output_per_call(run.session)


async def test_never_refuses_untrusted_servers_and_runs_trusted_ones(
    tmp_path: Path, lever_home: Path
) -> None:
    script = [
        call("demo__echo", {"text": "hi"}, "call_ask"),
        call("safe__echo", {"text": "hello"}, "call_trusted"),
        call("safe__slow", {"seconds": 2}, "call_slow"),
        call("safe__add", {"a": 1, "b": 1}, "call_after"),
        {"text": "done"},
    ]
    servers = {"demo": demo_table(), "safe": demo_table(trust="trusted", tool_timeout_s=0.5)}
    run = await run_mcp_turn(script, tmp_path, servers, "go", policy="never")

    assert run.finished.reason == "done"
    events = run.events
    assert not [e for e in events if isinstance(e, ApprovalRequested)]
    results = outputs(events)
    assert results["call_ask"].is_error and "`never`" in results["call_ask"].output
    assert results["call_trusted"].output == "hello"
    assert results["call_slow"].is_error and "timed out after 0.5 s" in results["call_slow"].output
    assert results["call_after"].output == "2"  # the session and the server went on


async def test_no_servers_configured_adds_nothing(tmp_path: Path, lever_home: Path) -> None:
    run = await run_mcp_turn([{"text": "ok"}], tmp_path, {}, "hi")
    assert set(tool_names(run.bodies[0])) == {"shell", "apply_patch", "update_plan"}


def test_tool_names_fit_every_provider() -> None:
    assert exposed_name("demo", "add") == "demo__add"
    assert exposed_name("demo", "get.thing/x") == "demo__get_thing_x"
    long = exposed_name("server", "t" * 100)
    assert len(long) == MAX_NAME and long != exposed_name("server", "t" * 99)


def test_config_tables_are_checked() -> None:
    server = parse_server("demo", {"command": "python", "args": ["s.py"], "env": {"A": "1"}})
    assert server.transport == "stdio" and server.trust == "ask"
    assert parse_server("web", {"url": "http://127.0.0.1:9/mcp"}).transport == "http"
    for name, table in [
        ("a__b", {"command": "x"}),
        ("demo", {}),
        ("demo", {"command": "x", "url": "http://h"}),
        ("demo", {"command": "x", "trust": "yes"}),
        ("demo", {"command": "x", "tool_timeout_s": 0}),
        ("demo", {"command": "x", "colour": "red"}),
    ]:
        with pytest.raises(McpConfigError):
            parse_server(name, table)
    servers, problems = parse_servers({"mcp_servers": {"ok": {"command": "x"}, "bad": {}}})
    assert [s.name for s in servers] == ["ok"] and len(problems) == 1
