"""`lever mcp-server` driven by the official MCP client through whole tasks."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
from mcp.client.session import ClientRequestContext, ClientSession, ElicitationFnT
from mcp.client.stdio import StdioServerParameters, stdio_client

from lever.testing.fake_model import FakeModelServer


def write_config(home: Path, server: FakeModelServer) -> None:
    (home / "config.toml").write_text(
        'provider = "fake"\n\n[providers.fake]\nwire = "openai-chat"\n'
        f'base_url = "{server.base_url}"\nneeds_key = false\nmodel = "fake-model"\n',
        encoding="utf-8",
    )


@asynccontextmanager
async def lever_mcp(
    home: Path, elicitation: ElicitationFnT | None = None
) -> AsyncIterator[ClientSession]:
    lever = shutil.which("lever")
    assert lever, "the `lever` command is not installed (run through `uv run`)"
    params = StdioServerParameters(
        command=lever, args=["mcp-server"], env={"LEVER_HOME": str(home)}, cwd=str(home)
    )
    with (home / "server-stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, elicitation_callback=elicitation) as session,
        ):
            await session.initialize()
            yield session


def result_of(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def error_text(result: types.CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_a_task_then_a_reply(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    with FakeModelServer([{"text": "Hello from lever."}, {"text": "Second answer."}]) as model:
        write_config(home, model)
        async with lever_mcp(home) as client:
            listed = await client.list_tools()
            tools = {tool.name: tool for tool in listed.tools}
            assert set(tools) == {"lever", "lever_reply", "lever_fork"}
            assert set(tools["lever"].input_schema["required"]) == {"prompt", "cwd"}
            assert set(tools["lever_reply"].input_schema["required"]) == {"session_id", "prompt"}

            first = result_of(
                await client.call_tool(
                    "lever",
                    {"prompt": "say hello", "cwd": str(work), "sandbox": "danger-full-access"},
                )
            )
            assert first["status"] == "done"
            assert first["final_message"] == "Hello from lever."

            second = result_of(
                await client.call_tool(
                    "lever_reply", {"session_id": first["session_id"], "prompt": "once more"}
                )
            )
            assert second == {**first, "final_message": "Second answer."}

            # Refused before anything runs: this client cannot answer approvals.
            refused = await client.call_tool(
                "lever", {"prompt": "x", "cwd": str(work), "approval_policy": "on-request"}
            )
            assert "elicitation" in error_text(refused)
            unknown = await client.call_tool("lever_reply", {"session_id": "nope", "prompt": "x"})
            assert "nope" in error_text(unknown)
        requests = model.bodies()
    assert len(requests) == 2
    # The reply continued the same conversation, restored from its rollout.
    replayed = json.dumps(requests[1]["messages"])
    assert "say hello" in replayed and "Hello from lever." in replayed and "once more" in replayed


async def test_approvals_are_forwarded_as_elicitation(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    script = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "touch made.txt"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "touch denied.txt"}}]},
        {"text": "Made one file."},
    ]
    asked: list[str] = []

    async def elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        decision = "deny" if "denied.txt" in params.message else "approve_once"
        return types.ElicitResult(action="accept", content={"decision": decision})

    with FakeModelServer(script) as model:
        write_config(home, model)
        async with lever_mcp(home, elicitation=elicit) as client:
            result = result_of(
                await client.call_tool(
                    "lever",
                    {
                        "prompt": "make a file",
                        "cwd": str(work),
                        "sandbox": "danger-full-access",
                        "approval_policy": "untrusted",
                    },
                )
            )
    assert result["final_message"] == "Made one file."
    assert len(asked) == 2 and "touch made.txt" in asked[0]
    assert (work / "made.txt").exists() and not (work / "denied.txt").exists()
