"""MCP client over streamable HTTP: a real server (the SDK's app under uvicorn, on 127.0.0.1)
plugged into a lever session run against the fake model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lever.mcp.client import McpError, http_headers
from lever.mcp.config import McpConfigError, parse_server
from lever.protocol import ApprovalDecided, ApprovalRequested, ErrorEvent, event_to_json

from ..agent.conftest import assert_one_output_per_call
from .conftest import run_mcp_turn, tool_names
from .test_mcp_client import call, outputs

HTTP_SERVER = Path(__file__).parent / "http_server.py"
TOKEN = "tok-5f1c2b7e-do-not-log"


@pytest.fixture
def http_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a running tests/mcp/http_server.py that wants `Bearer TOKEN`."""
    log = (tmp_path / "http-server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(HTTP_SERVER)],
        env={**os.environ, "DEMO_HTTP_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (tmp_path / "http-server.log").read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_http_server_tools_listed_called_with_headers_failures_reported(
    tmp_path: Path, lever_home: Path, http_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_MCP_TOKEN", TOKEN)
    monkeypatch.delenv("UNSET_MCP_TOKEN", raising=False)
    script = [
        call("web__add", {"a": 20, "b": 22}, "call_add"),
        call("web__team", {}, "call_team"),
        {"text": "20 + 22 = 42."},
    ]
    asked: list[ApprovalRequested] = []

    async def decide(request: ApprovalRequested) -> Any:
        asked.append(request)
        return "approve_once"

    web = {"url": http_url, "headers": {"X-Team": "core"}, "bearer_token_env_var": "WEB_MCP_TOKEN"}
    servers = {
        "web": web,
        "noauth": {"url": http_url},  # the same server, no token: refused
        "notoken": {"url": http_url, "bearer_token_env_var": "UNSET_MCP_TOKEN"},
        "down": {"url": f"http://127.0.0.1:{closed_port()}/mcp", "startup_timeout_s": 5},
    }
    run = await run_mcp_turn(
        script, tmp_path, servers, "add 20 and 22", policy="on-request", decide=decide
    )

    assert run.finished.reason == "done"
    names = tool_names(run.bodies[0])
    assert {"web__add", "web__team"} <= set(names)
    assert not [n for n in names if n.split("__")[0] in ("noauth", "notoken", "down")]
    # Each failing server is a notice; the session went on without it.
    events = run.events
    notices = {
        e.message.split("'")[1]: e.message
        for e in events
        if isinstance(e, ErrorEvent) and e.kind == "mcp"
    }
    assert set(notices) == {"noauth", "notoken", "down"}
    assert "HTTP 401 Unauthorized" in notices["noauth"]
    assert "UNSET_MCP_TOKEN (bearer_token_env_var) is not set" in notices["notoken"]
    assert "could not start" in notices["down"] and "Connect" in notices["down"]
    # The call was asked about, approved, and ran on the server with the configured headers.
    assert [(r.kind, r.command[0] if r.command else "") for r in asked] == [
        ("mcp", "web__add"),
        ("mcp", "web__team"),
    ]
    assert [e.decision for e in events if isinstance(e, ApprovalDecided)] == ["approve_once"] * 2
    results = outputs(events)
    assert results["call_add"].output == "42" and not results["call_add"].is_error
    assert results["call_team"].output == "core"
    assert_one_output_per_call(run.session)
    # The token went to the server and nowhere else.
    assert not [e for e in events if TOKEN in event_to_json(e)]
    for log in (lever_home / "log").glob("*"):
        assert TOKEN not in log.read_text(errors="replace"), log


def test_http_auth_config_is_checked_and_the_token_read_from_the_environment() -> None:
    url = "http://127.0.0.1:9/mcp"
    server = parse_server("web", {"url": url, "bearer_token_env_var": "T", "headers": {"A": "1"}})
    assert http_headers(server, {"T": " abc\n"}) == {"A": "1", "Authorization": "Bearer abc"}
    with pytest.raises(McpError, match="T \\(bearer_token_env_var\\) is not set"):
        http_headers(server, {})
    assert http_headers(parse_server("open", {"url": url}), {"T": "abc"}) == {}
    for table in [
        {"command": "x", "headers": {"A": "1"}},
        {"command": "x", "bearer_token_env_var": "T"},
        {"url": url, "bearer_token_env_var": "NOT A NAME"},
        {"url": url, "headers": {"Bad Header": "1"}},
        {"url": url, "headers": {"A": 1}},
        {"url": url, "bearer_token_env_var": "T", "headers": {"authorization": "x"}},
    ]:
        with pytest.raises(McpConfigError):
            parse_server("web", table)
