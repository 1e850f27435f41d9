"""MCP: other servers' tools for lever's sessions (the client side; `lever mcp-server`, lever as
a tool for others, is a front end and lives in `lever.server.mcp_server`).

- `config`: `[mcp_servers.NAME]` tables (no SDK import);
- `client`: `McpManager`, the connections to the servers (official `mcp` SDK);
- `tools`: each server tool as a lever tool `server__tool`, behind the approval policy.

Importing this package is cheap; the SDK (about a second and a half to import) is loaded only
when a configuration names MCP servers, by `add_mcp_tools`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lever.mcp.config import parse_servers

if TYPE_CHECKING:
    from lever.agent.session import Session
    from lever.tools.router import ToolRouter


def add_mcp_tools(router: ToolRouter, config: dict[str, Any], cwd: Path) -> list[str]:
    """Start the configured servers, add their tools to `router`; notices for what failed.

    Blocks while the servers start and list their tools (each bounded by its
    `startup_timeout_s`): the tools must be in the session's first request, and stay the same
    for the whole session so the request prefix stays byte-stable.
    """
    servers, notices = parse_servers(config)
    if not servers:
        return notices
    from lever.config.loader import lever_home
    from lever.mcp.client import McpManager
    from lever.mcp.tools import tools_from_listing

    manager = McpManager(servers, cwd=cwd, log_dir=lever_home() / "log")
    tools, failures = tools_from_listing(
        manager, manager.list_tools_blocking(), taken=set(router.tools)
    )
    if not tools:
        manager.close()  # nothing will call it, and no tool's `aclose` would stop it
    for tool in tools:
        router.tools[tool.schema.name] = tool
    return notices + failures


def report_after_start(session: Session, notices: list[str]) -> None:
    """Emit each notice as an ErrorEvent (kind "mcp") right after the session starts.

    A rollout must begin with `session_started`, so the notices cannot be emitted while the
    session is built; they follow `start()` (new session) or `restore()` (resume).
    """
    if not notices:
        return
    from lever.protocol import ErrorEvent

    def emit_notices() -> None:
        for notice in notices:
            session.emit(ErrorEvent(message=notice, kind="mcp"))

    start, restore = session.start, session.restore

    def start_then_report() -> None:
        start()
        emit_notices()

    def restore_then_report(replayed: Any) -> None:
        restore(replayed)
        emit_notices()

    session.start = start_then_report  # type: ignore[method-assign]
    session.restore = restore_then_report  # type: ignore[method-assign]
