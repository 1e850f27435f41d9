"""A tiny MCP server for lever's tests, written with the official SDK; speaks stdio.

Tools: add(a, b), echo(text), write_file(path, text) (to prove a denied call never ran),
slow(seconds) (to test timeouts).
"""

from __future__ import annotations

import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer

app = MCPServer("demo", log_level="WARNING")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@app.tool()
def write_file(path: str, text: str) -> str:
    """Write text to a file."""
    Path(path).write_text(text, encoding="utf-8")
    return f"wrote {len(text)} characters to {path}"


@app.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "done"


if __name__ == "__main__":
    app.run()
