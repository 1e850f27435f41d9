"""New tasks from the page: sessions run in the server through lever.frontend, against the fake
model; approvals answered through the API."""

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


async def wait_end(app: Any, session_id: str, timeout: float = 60) -> str | None:
    return await app.app.state.runner.wait(session_id, timeout)


async def test_a_task_runs_to_its_end_and_is_listed(app, client, project, home) -> None:
    with FakeModelServer([{"text": "Hello from the **task**."}]) as server:
        body = {"prompt": "say hello", "cwd": str(project), "model": "m"}
        body["base_url"] = server.base_url
        response = await client.post("/api/tasks", json=body)
        assert response.status_code == 200, response.text
        task = response.json()
        assert await wait_end(app, task["session_id"]) == "done"
        prompt = server.requests[0].body["messages"][-1]
    assert prompt == {"role": "user", "content": "say hello"}
    listed = (await client.get("/api/sessions", params={"q": "hello"})).json()
    assert task["session_id"] in [row["id"] for row in listed]
    tasks = (await client.get("/api/tasks")).json()
    assert tasks[0]["session_id"] == task["session_id"] and tasks[0]["reason"] == "done"
    assert tasks[0]["running"] is False


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
        reason = await wait_end(app, sid, timeout=20)
        assert asyncio.get_running_loop().time() - started < 15
    assert reason == "interrupted"
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
        ({"approval": "always"}, "approval must be"),
        ({"base_url": "file:///etc/passwd"}, "base URL"),
    ],
)
async def test_bad_task_requests_are_refused(client, project, change, message) -> None:
    body = {"prompt": "x", "cwd": str(project), **change}
    response = await client.post("/api/tasks", json=body)
    assert response.status_code == 400 and message in response.json()["error"]


async def test_a_task_that_cannot_start_says_why(client, project) -> None:
    # No model configured: the front-end flow refuses before any session starts.
    response = await client.post("/api/tasks", json={"prompt": "x", "cwd": str(project)})
    assert response.status_code == 400
    assert "model" in response.json()["error"].lower()


async def test_garbage_bodies_are_400(client) -> None:
    for content in (b"not json", b"[1, 2]", b'{"nope": 1}'):
        response = await client.post("/api/tasks", content=content)
        assert response.status_code == 400, content


def touch_script(*names: str) -> list[dict[str, Any]]:
    calls = [{"name": "shell", "arguments": {"command": f"touch {name}"}} for name in names]
    return [*({"text": "Touching.", "tool_calls": [call]} for call in calls), {"text": "Done."}]


async def pending_of(client: Any, sid: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The open approval requests of task `sid`, once there is one."""
    for _ in range(int(timeout * 10)):
        task = next(t for t in (await client.get("/api/tasks")).json() if t["session_id"] == sid)
        if task["pending"]:
            return list(task["pending"])
        await asyncio.sleep(0.1)
    raise AssertionError("no approval was asked")


async def start_untrusted(client: Any, project: Any, server: Any, prompt: str) -> str:
    body = {"prompt": prompt, "cwd": str(project), "model": "m", "base_url": server.base_url}
    body["approval"] = "untrusted"  # every command that is not known safe is asked about
    response = await client.post("/api/tasks", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["session_id"])


async def test_approvals_are_answered_from_the_api(app, client, project, home) -> None:
    with FakeModelServer(touch_script("one.txt", "two.txt", "three.txt")) as server:
        sid = await start_untrusted(client, project, server, "touch files")
        url = f"/api/tasks/{sid}/approval"
        first = await pending_of(client, sid)
        assert first[0]["kind"] == "shell" and "touch one.txt" in " ".join(first[0]["command"])
        answer = {"call_id": first[0]["call_id"], "decision": "approve_once"}
        assert (await client.post(url, json=answer)).json() == {"answered": True}
        second = await pending_of(client, sid)
        assert second[0]["call_id"] != first[0]["call_id"]
        answer = {"call_id": second[0]["call_id"], "decision": "deny"}
        assert (await client.post(url, json=answer)).status_code == 200
        third = await pending_of(client, sid)
        # The same call cannot be answered twice; an unknown decision is refused.
        again = await client.post(url, json={"call_id": first[0]["call_id"], "decision": "deny"})
        assert again.status_code == 400 and "no approval is waiting" in again.json()["error"]
        bad = await client.post(url, json={"call_id": third[0]["call_id"], "decision": "yes"})
        assert bad.status_code == 400 and "decision must be" in bad.json()["error"]
        answer = {"call_id": third[0]["call_id"], "decision": "approve_session"}
        assert (await client.post(url, json=answer)).status_code == 200
        assert await wait_end(app, sid) == "done"
    assert (project / "one.txt").exists() and (project / "three.txt").exists()
    assert not (project / "two.txt").exists()
    rollout = next(home.glob(f"sessions/*/*/*/rollout-{sid}.jsonl"))
    decided = [(e.decision, e.by) for e in read_rollout(rollout) if e.type == "approval_decided"]
    assert decided == [
        ("approve_once", "person"),
        ("deny", "person"),
        ("approve_session", "person"),
    ]


async def test_interrupt_while_an_approval_waits(app, client, project, home) -> None:
    with FakeModelServer(touch_script("never.txt")) as server:
        sid = await start_untrusted(client, project, server, "touch")
        await pending_of(client, sid)
        assert (await client.post(f"/api/tasks/{sid}/interrupt")).json() == {"interrupted": True}
        assert await wait_end(app, sid, timeout=20) == "interrupted"
    assert not (project / "never.txt").exists()
    task = (await client.get("/api/tasks")).json()[0]
    assert task["pending"] == [] and task["running"] is False


async def test_approval_for_an_unknown_task_is_refused(client) -> None:
    response = await client.post(
        "/api/tasks/20261201T000000-nope/approval", json={"call_id": "c", "decision": "deny"}
    )
    assert response.status_code == 400 and "no task" in response.json()["error"]
    response = await client.post("/api/tasks/x/approval", content=b"[]")
    assert response.status_code == 400
