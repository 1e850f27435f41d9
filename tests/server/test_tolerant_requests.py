"""Requests with members the server does not know are answered, not refused (`clientInfo`)."""

from __future__ import annotations

import io
import json
from typing import Any

from lever.server.app_server import AppServer


async def answer(message: dict[str, Any]) -> dict[str, Any]:
    out = io.StringIO()
    server = AppServer(out)
    task = server.handle_line(json.dumps(message))
    assert task is not None
    await task
    return json.loads(out.getvalue().splitlines()[-1])


async def test_an_lsp_like_initialize_is_accepted() -> None:
    reply = await answer(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "processId": 4242,
                "rootUri": "file:///work/project",
                "capabilities": {"window": {"workDoneProgress": True}},
                "clientInfo": {"name": "my-editor", "version": "1.2.3"},
                "protocol_version": "1",
            },
        }
    )
    assert "error" not in reply, reply
    assert reply["result"]["server_name"] == "lever"


async def test_unknown_members_of_other_requests_are_ignored() -> None:
    reply = await answer(
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "turn/interrupt",
            "params": {"session_id": "nope", "reason": "user pressed stop"},
            "trace": "verbose",
        }
    )
    # The unknown members pass; the request fails only for what it asks (no such session).
    assert reply["error"]["code"] == -32001, reply
