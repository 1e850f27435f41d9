"""Helpers for the MCP tests: the demo server script and a session against the fake model."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lever.agent.limits import Limits
from lever.agent.session import Session
from lever.assembly import build_session
from lever.config.providers import resolve_model
from lever.protocol import TurnFinished
from lever.sandbox.approval import Approvals, Decide
from lever.sandbox.base import NoSandbox, SandboxPolicy
from lever.testing.fake_model import FakeModelServer

DEMO_SERVER = Path(__file__).parent / "demo_server.py"


def demo_table(**extra: Any) -> dict[str, Any]:
    """A `[mcp_servers.NAME]` table starting the demo server with this Python."""
    return {"command": sys.executable, "args": [str(DEMO_SERVER)], **extra}


@pytest.fixture
def lever_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "lever-home"
    home.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    return home


def tool_names(body: dict[str, Any]) -> list[str]:
    """Tool names of a recorded model request, whatever its wire format."""
    return [tool.get("name") or tool["function"]["name"] for tool in body.get("tools", [])]


def mcp_session(
    server: FakeModelServer,
    cwd: Path,
    servers: dict[str, Any],
    *,
    policy: str = "never",
    decide: Decide | None = None,
) -> Session:
    """A session built like `lever exec` builds one, with `servers` as `[mcp_servers]`."""
    config: dict[str, Any] = {"mcp_servers": servers}
    resolved = resolve_model(
        config, provider="openai-chat", base_url=server.base_url, model="fake-model", env={}
    )
    session = build_session(
        resolved,
        cwd,
        config,
        Limits(max_turns=10),
        sandbox=NoSandbox(SandboxPolicy(mode="danger-full-access")),
        approvals=Approvals(policy, decide),
    )
    events: list[Any] = []
    session.subscribe(events.append)
    session.events = events  # type: ignore[attr-defined]
    return session


@dataclass
class McpRun:
    session: Session
    finished: TurnFinished
    events: list[Any]  # every event of the session
    bodies: list[dict[str, Any]]  # every request the model received


async def run_mcp_turn(
    script: list[dict[str, Any]],
    cwd: Path,
    servers: dict[str, Any],
    prompt: str,
    *,
    policy: str = "never",
    decide: Decide | None = None,
) -> McpRun:
    """One turn of an `mcp_session` against the fake model playing `script`; the session is
    closed (its servers stopped) before this returns."""
    with FakeModelServer(script) as server:
        session = mcp_session(server, cwd, servers, policy=policy, decide=decide)
        session.start()
        finished = await session.run_turn(prompt)
        await session.close()
        bodies = server.bodies()
    return McpRun(session, finished, session.events, bodies)  # type: ignore[attr-defined]
