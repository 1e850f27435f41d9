"""`lever mcp-server`: lever as an MCP server on stdio (run by `lever.server.mcp_server`)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp-server",
        help="serve lever as MCP tools over stdio (`lever`, `lever_reply`) for other agents",
        description="Speak MCP on stdin/stdout. Tools: `lever` {prompt, cwd, sandbox?, "
        "approval_policy?, model?} runs a task to the end of its turn and returns the final "
        "message and a session id; `lever_reply` {session_id, prompt} continues that session. "
        "The model comes from $LEVER_HOME/config.toml. Approvals are asked through MCP "
        "elicitation; with a client that cannot answer them the policy must be `never`. "
        "See docs/mcp.md.",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from lever.server.mcp_server import serve

    serve()
    return 0
