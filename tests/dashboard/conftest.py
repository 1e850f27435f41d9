"""Dashboard fixtures: a LEVER_HOME with recorded sessions, the gated ASGI app, clients."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lever.dashboard.app import STATIC, create_app
from lever.dashboard.security import Gate
from lever.protocol import (
    AssistantMessage,
    ItemAdded,
    PatchApplied,
    SessionEnded,
    SessionStarted,
    TokenUsage,
    ToolFinished,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from lever.store.rollout import RolloutWriter

from .browser_fixtures import artifacts, browser_page, dashboard, env, recorded, repo  # noqa: F401

PORT = 8765
SESSION_ID = "20261201T120000-abc123"
XSS_ANSWER = (
    'Done. <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2">\n\n'
    "**bold** and `code`\n\n```\n<b>fenced</b>\n```\n[a link](javascript:alert(1))"
)


def recorded_events(cwd: Path, answer: str = XSS_ANSWER) -> list[Any]:
    events: list[Any] = [
        SessionStarted(session_id=SESSION_ID, cwd=str(cwd), model="fake-model", provider="fake"),
        ItemAdded(item=UserMessage(text="fix <the> bug")),
        ToolStarted(call_id="c1", name="shell", arguments='{"command": "pytest -q"}'),
        ToolFinished(call_id="c1", name="shell", exit_code=1, full_output="1 failed <oops>"),
        PatchApplied(call_id="c2", files=["a.py"], diff="--- a/a.py\n+++ b/a.py\n@@\n-x\n+y\n"),
        TokenUsage(input_tokens=100, output_tokens=20),
        ItemAdded(item=AssistantMessage(text=answer)),
        TurnFinished(reason="done", last_message=answer),
        SessionEnded(),
    ]
    for seq, event in enumerate(events, 1):
        event.seq = seq
    return events


def write_session(home: Path, events: list[Any]) -> Path:
    writer = RolloutWriter.create(home, events[0].session_id)
    for event in events:
        writer.append(event)
    writer.close()
    return writer.path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path, project: Path) -> Path:
    home = tmp_path / "lever-home"
    write_session(home, recorded_events(project))
    return home


@pytest.fixture
def gate() -> Gate:
    return Gate(port=PORT)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """A copy of the static folder with traps: symlinks pointing out of it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP-SECRET\n")
    static = tmp_path / "static"
    shutil.copytree(STATIC, static)
    (static / "leak.txt").symlink_to(outside / "secret.txt")
    (static / "linkdir").symlink_to(outside, target_is_directory=True)
    return static


@pytest.fixture
def app(home: Path, gate: Gate, static_dir: Path) -> Any:
    return create_app(home, gate, static_dir=static_dir)


def make_client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://127.0.0.1:{PORT}", **kwargs
    )


@pytest.fixture
async def anon(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as client:
        yield client


@pytest.fixture
async def authed(app: Any, gate: Gate) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {gate.token}"}
    async with make_client(app, headers=headers) as client:
        yield client


async def raw_request(
    app: Any, method: str, path: str, headers: dict[str, str], query: str = ""
) -> tuple[int, bytes]:
    """Drive the ASGI app with exactly the path a server hands over (httpx would normalise
    `..` away before it left the client)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", PORT),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        # The body once, then the client is gone (a streaming response stops listening).
        nonlocal requested
        if requested:
            return {"type": "http.disconnect"}
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body
