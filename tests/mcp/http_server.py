"""A streamable-HTTP MCP server for lever's tests: the official SDK's app, served by uvicorn on
127.0.0.1 at a port the system picks. Prints its URL on stdout once it accepts connections.

When DEMO_HTTP_TOKEN is set, a request without `Authorization: Bearer $DEMO_HTTP_TOKEN` is
refused with 401, so a client that gets in has sent the header. Tools: add(a, b), team() (the
X-Team header of the call's request, to show configured headers arrive).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.responses import PlainTextResponse

app = MCPServer("web", log_level="WARNING")
#: The X-Team header of the latest request (a tool runs inside the request that called it).
last_team: list[str] = [""]


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def team() -> str:
    """The X-Team header this call came with."""
    return last_team[0] or "(no X-Team header)"


def guarded(inner: Any, token: str) -> Any:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if token and headers.get("authorization") != f"Bearer {token}":
                refused = PlainTextResponse("missing or wrong bearer token", status_code=401)
                await refused(scope, receive, send)
                return
            last_team[0] = headers.get("x-team", "")
        await inner(scope, receive, send)

    return asgi


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue up from now on, before uvicorn takes the socket
    asgi = guarded(app.streamable_http_app(), os.environ.get("DEMO_HTTP_TOKEN", ""))
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="on"))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    server.run(sockets=[sock])
    sys.exit(0)


if __name__ == "__main__":
    main()
