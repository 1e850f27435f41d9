"""New tasks from the page: a real `lever exec --json` subprocess against the fake model."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import make_client


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.endswith("_API_KEY") or (name.startswith("LEVER_") and name != "LEVER_HOME"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def client(app: Any, gate: Any) -> AsyncIterator[Any]:
    headers = {"Authorization": f"Bearer {gate.token}", "X-Lever-CSRF": gate.csrf}
    async with make_client(app, headers=headers) as c:
        yield c
    await app.app.state.runner.shutdown(grace=5)  # no process outlives its test


async def wait_exit(app: Any, session_id: str, timeout: float = 60) -> int:
    process = app.app.state.runner.tasks[session_id].process
    return int(await asyncio.wait_for(process.wait(), timeout))


async def test_a_task_runs_to_its_end_and_is_listed(app, client, project, home) -> None:
    with FakeModelServer([{"text": "Hello from the **task**."}]) as server:
        body = {"prompt": "say hello", "cwd": str(project), "model": "m"}
        body["base_url"] = server.base_url
        response = await client.post("/api/tasks", json=body)
        assert response.status_code == 200, response.text
        task = response.json()
        assert await wait_exit(app, task["session_id"]) == 0
        prompt = server.requests[0].body["messages"][-1]
    assert prompt == {"role": "user", "content": "say hello"}  # on stdin, never as a flag
    listed = (await client.get("/api/sessions", params={"q": "hello"})).json()
    assert task["session_id"] in [row["id"] for row in listed]
    tasks = (await client.get("/api/tasks")).json()
    assert tasks[0]["session_id"] == task["session_id"] and tasks[0]["exit_code"] == 0


async def test_interrupt_stops_a_running_task(app, client, project, home) -> None:
    script = [
        {
            "text": "Waiting.",
            "tool_calls": [{"name": "shell", "arguments": {"command": "sleep 30"}}],
        },
        {"text": "unused"},
    ]
    with FakeModelServer(script) as server:
        body = {"prompt": "wait", "cwd": str(project), "model": "m", "base_url": server.base_url}
        task = (await client.post("/api/tasks", json=body)).json()
        sid = task["session_id"]
        rollout = next(home.glob(f"sessions/*/*/*/rollout-{sid}.jsonl"))
        for _ in range(200):  # until the command runs
            if any(e.type == "tool_started" for e in read_rollout(rollout)):
                break
            await asyncio.sleep(0.1)
        started = asyncio.get_running_loop().time()
        response = await client.post(f"/api/tasks/{sid}/interrupt")
        assert response.json() == {"interrupted": True}
        code = await wait_exit(app, sid, timeout=20)
        assert asyncio.get_running_loop().time() - started < 15
    assert code != 0
    finished = [e for e in read_rollout(rollout) if e.type == "turn_finished"]
    assert [e.reason for e in finished] == ["interrupted"]
    again = await client.post(f"/api/tasks/{sid}/interrupt")
    assert again.json() == {"interrupted": False}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"cwd": "/"}, "known projects"),
        ({"cwd": "../project"}, "known projects"),
        ({"model": "--provider=evil"}, "not a valid name"),
        ({"provider": "-x"}, "not a valid name"),
        ({"sandbox": "none"}, "sandbox must be"),
        ({"base_url": "file:///etc/passwd"}, "base URL"),
    ],
)
async def test_bad_task_requests_are_refused(client, project, change, message) -> None:
    body = {"prompt": "x", "cwd": str(project), **change}
    response = await client.post("/api/tasks", json=body)
    assert response.status_code == 400 and message in response.json()["error"]


async def test_a_task_that_cannot_start_says_why(client, project) -> None:
    # No model configured: lever exec exits 2 before any session starts.
    response = await client.post("/api/tasks", json={"prompt": "x", "cwd": str(project)})
    assert response.status_code == 400
    assert "model" in response.json()["error"].lower()


async def test_garbage_bodies_are_400(client) -> None:
    for content in (b"not json", b"[1, 2]", b'{"nope": 1}'):
        response = await client.post("/api/tasks", content=content)
        assert response.status_code == 400, content
