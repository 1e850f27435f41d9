"""Fleets from the dashboard: started from the API as `lever fleet run`, watched in the grid,
the chosen attempt's diff shown and applied with the rules of `lever fleet apply`."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lever.fleet import recover, store
from lever.testing.fake_model import FakeModelServer

from .builders import COMMANDS, VERIFY, attempt_responder, git, make_repo
from .conftest import make_client
from .test_serve import processes_running


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    kept = ("LEVER_HOME", "LEVER_SANDBOX")  # CI forces the Landlock mechanism with the latter
    for name in list(os.environ):
        if name.endswith("_API_KEY") or (name.startswith(("GIT_", "LEVER_")) and name not in kept):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def repo(project: Path) -> Path:
    return make_repo(project)  # the recorded session's folder: a known project


@pytest.fixture
async def client(app: Any, gate: Any) -> AsyncIterator[Any]:
    headers = {"Authorization": f"Bearer {gate.token}", "X-Lever-CSRF": gate.csrf}
    async with make_client(app, headers=headers) as c:
        yield c
    await app.app.state.fleet_runner.shutdown(grace=10)


async def finished(client: Any, run: str, timeout: float = 120) -> dict[str, Any]:
    for _ in range(int(timeout * 4)):
        data: dict[str, Any] = (await client.get(f"/api/fleets/{run}")).json()
        if data["status"] != "running":
            return data
        await asyncio.sleep(0.25)
    raise AssertionError(f"fleet {run} did not finish")


async def start_fleet(client: Any, repo: Path, server: Any) -> str:
    body = {
        "prompt": "make the winner file",
        "cwd": str(repo),
        "attempts": 2,
        "verify": VERIFY,
        "provider": "openai-chat",
        "model": "fake-model",
        "base_url": server.base_url,
    }
    response = await client.post("/api/fleets", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["run"])


async def test_a_fleet_started_from_the_api_is_graded_shown_and_applied(client, repo, home) -> None:
    with FakeModelServer(responder=attempt_responder(COMMANDS)) as server:
        run = await start_fleet(client, repo, server)
        listed = (await client.get("/api/fleets")).json()
        assert listed[0]["run"] == run and listed[0]["k"] == 2
        data = await finished(client, run)
    assert data["status"] == "finished", data
    (task,) = data["tasks"]
    assert task["verify"] == VERIFY and task["chosen"] == 2
    cells = {cell["attempt"]: cell for cell in task["attempts"]}
    assert cells[1]["status"] == "failed" and cells[2]["status"] == "passed"
    assert cells[2]["tokens"] > 0 and cells[2]["seconds"] > 0 and cells[2]["has_diff"]
    diff = await client.get(f"/api/fleets/{run}/diff", params={"task": task["id"], "attempt": 2})
    assert diff.status_code == 200 and "+winner" in diff.text
    assert not (repo / "out" / "winner.txt").exists()
    applied = await client.post(f"/api/fleets/{run}/apply", json={})
    assert applied.status_code == 200, applied.text
    assert "applied" in applied.json()["applied"][0]
    assert (repo / "out" / "winner.txt").read_text() == "winner\n"
    assert not (repo / "out" / "loser.txt").exists()
    # Applying again conflicts with the tree as it now is: refused, nothing written (409).
    again = await client.post(f"/api/fleets/{run}/apply", json={"task": task["id"]})
    assert again.status_code == 409 and "does not apply cleanly" in again.json()["error"]


async def wait_running(client: Any, run: str) -> None:
    """Until every attempt of the run has made its worktree (so each is in its command)."""
    for _ in range(240):
        cells = (await client.get(f"/api/fleets/{run}")).json()["tasks"][0]["attempts"]
        if all(c["status"] == "running" for c in cells):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the attempts of {run} did not start")


async def test_a_running_fleet_shows_its_attempts_running(app, client, repo, home) -> None:
    script = attempt_responder({1: "sleep 30", 2: "sleep 30"})
    with FakeModelServer(responder=script) as server:
        run = await start_fleet(client, repo, server)
        await wait_running(client, run)
        grid = (await client.get(f"/api/fleets/{run}")).json()
        cells = grid["tasks"][0]["attempts"]
        assert grid["status"] == "running" and [c["status"] for c in cells] == ["running"] * 2
        assert all(c["seconds"] >= 0 for c in cells)
        await app.app.state.fleet_runner.shutdown(grace=30)  # SIGINT: as Ctrl-C would
        data = (await client.get(f"/api/fleets/{run}")).json()
    assert data["status"] == "interrupted"
    assert {c["status"] for c in data["tasks"][0]["attempts"]} <= {"not run", "failed", "error"}


async def test_interrupt_then_clean_a_fleet_from_the_api(client, repo, home) -> None:
    """Interrupt is the fleet's own Ctrl-C: attempts stopped (their commands killed), the run
    recorded `interrupted` and resumable; clean is `lever fleet clean`. Each refuses a run in
    the wrong state with a 409 that says why."""
    marker = "sleep 47.25"
    with FakeModelServer(responder=attempt_responder({1: marker, 2: marker})) as server:
        run = await start_fleet(client, repo, server)
        await wait_running(client, run)
        for _ in range(100):
            if processes_running(marker):
                break
            await asyncio.sleep(0.1)
        assert processes_running(marker), "the attempts' commands never started"
        refused = await client.post(f"/api/fleets/{run}/clean")
        assert refused.status_code == 409 and "is still running" in refused.json()["error"]
        assert (home / "fleets" / run / "worktrees" / "t1" / "1").is_dir()
        response = await client.post(f"/api/fleets/{run}/interrupt")
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "interrupted"}
    again = await client.post(f"/api/fleets/{run}/interrupt")
    assert again.status_code == 409
    assert again.json()["error"] == f"run {run} is not running (it is interrupted)"
    for _ in range(100):  # bubblewrap's pid namespace may take a moment to be torn down
        if not processes_running(marker):
            break
        await asyncio.sleep(0.1)
    assert processes_running(marker) == []
    lines = (home / "fleets" / run / "events.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])  # the driver's own record of how the run ended
    assert last["type"] == "run_finished" and last["status"] == "interrupted"
    folder, manifest = recover.load_manifest(home, run)  # `lever fleet resume` would go on
    assert manifest["status"] == "interrupted" and len(manifest["attempts"]) == 2
    assert git(repo, "branch", "--list", f"lever/fleet/{run}/*").strip()
    cleaned = await client.post(f"/api/fleets/{run}/clean")
    assert cleaned.status_code == 200, cleaned.text
    removed = cleaned.json()["removed"]
    assert f"lever/fleet/{run}/t1/1" in removed and f"lever/fleet/{run}/t1/2" in removed
    assert git(repo, "branch", "--list", f"lever/fleet/{run}/*") == ""
    assert not (folder / "worktrees").exists()
    assert git(repo, "worktree", "list").count("\n") == 1
    listed = (await client.get("/api/fleets")).json()
    assert listed[0]["run"] == run and listed[0]["cleaned"] is True
    again = await client.post(f"/api/fleets/{run}/clean")
    assert again.status_code == 409 and again.json()["error"] == f"run {run} is already cleaned"


async def test_interrupt_and_clean_refuse_unknown_finished_and_orphaned_runs(client, home) -> None:
    for action in ("interrupt", "clean"):
        response = await client.post(f"/api/fleets/nope/{action}")
        assert response.status_code == 404 and "no such fleet run" in response.json()["error"]
    write_run(home, "20261202-030303-cafe", "finished")
    response = await client.post("/api/fleets/20261202-030303-cafe/interrupt")
    assert response.status_code == 409 and "not running (it is finished)" in response.text
    # Recorded as running, but the driver died (its pid is gone): nothing to interrupt;
    # clean may go ahead.
    folder = write_run(home, "20261202-040404-dead", "running")
    manifest = store.read_json(folder / "manifest.json")
    store.write_json(folder / "manifest.json", {**manifest, "git": False, "driver": {"pid": 0}})
    response = await client.post("/api/fleets/20261202-040404-dead/interrupt")
    assert response.status_code == 409 and "driver has ended" in response.json()["error"]
    response = await client.post("/api/fleets/20261202-040404-dead/clean")
    assert response.status_code == 200 and response.json() == {"removed": []}


def write_run(home: Path, run: str, status: str) -> Path:
    """A run's recorded files as the fleet writes them: manifest first, results later."""
    folder = home / "fleets" / run
    attempts = [
        {
            "task": "t1",
            "attempt": n,
            "path": str(folder / "worktrees" / "t1" / str(n)),
            "branch": None,
        }
        for n in (1, 2, 3)
    ]
    manifest = {"run": run, "k": 3, "root": "/nowhere", "status": status, "attempts": attempts}
    manifest["tasks"] = [{"id": "t1", "prompt": "p"}]
    store.write_json(folder / "manifest.json", manifest)
    return folder


async def test_the_grid_from_the_recorded_files_alone(client, home) -> None:
    """Without events.jsonl: an attempt with a worktree is running, one without is pending,
    one with a result shows it; with events.jsonl its start events count too (a torn last line
    is skipped); a finished run shows no attempt running."""
    run = "20261202-010101-abcd"
    folder = write_run(home, run, "running")
    (folder / "worktrees" / "t1" / "1").mkdir(parents=True)
    result = {"task": "t1", "attempt": 3, "status": "passed", "tokens": 7, "seconds": 1.5}
    store.write_json(folder / "results.json", {"chosen": {"t1": 3}, "attempts": [result]})
    grid = (await client.get(f"/api/fleets/{run}")).json()
    cells = grid["tasks"][0]["attempts"]
    assert [c["status"] for c in cells] == ["running", "pending", "passed"]
    assert grid["events"] is False and cells[2]["tokens"] == 7 and grid["tasks"][0]["chosen"] == 3
    # The lines of lever.fleet.events: seq, time, type, then the event's fields.
    lines = [
        {"seq": 1, "time": 1.0, "type": "run_started", "run": run, "k": 3, "tasks": ["t1"]},
        {"seq": 2, "time": 2.0, "type": "attempt_started", "task": "t1", "attempt": 2},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"seq": 3, "task": "t1", "att'
    (folder / "events.jsonl").write_text(text)
    grid = (await client.get(f"/api/fleets/{run}")).json()
    assert grid["events"] is True
    assert [c["status"] for c in grid["tasks"][0]["attempts"]] == ["running"] * 2 + ["passed"]
    write_run(home, run, "interrupted")
    grid = (await client.get(f"/api/fleets/{run}")).json()
    assert [c["status"] for c in grid["tasks"][0]["attempts"]] == ["not run"] * 2 + ["passed"]


async def test_bad_fleet_requests_are_refused(client, repo) -> None:
    base = {"prompt": "x", "cwd": str(repo)}
    for change, message in (
        ({"attempts": 0}, "attempts must be"),
        ({"attempts": "many"}, "attempts must be"),
        ({"attempts": 99}, "attempts must be"),
        ({"verify": "a\nb"}, "one line"),
        ({"cwd": "/"}, "known projects"),
        ({"model": "--evil"}, "not a valid name"),
    ):
        response = await client.post("/api/fleets", json={**base, **change})
        assert response.status_code == 400 and message in response.json()["error"], change
    assert (await client.post("/api/fleets", content=b"[1]")).status_code == 400


async def test_unknown_runs_tasks_and_diffs_are_404(client, repo, home) -> None:
    assert (await client.get("/api/fleets/nope")).status_code == 404
    assert (await client.get("/api/fleets/..%2f..%2fetc")).status_code == 404
    response = await client.get("/api/fleets/nope/diff", params={"task": "t1", "attempt": 1})
    assert response.status_code == 404
    assert (await client.post("/api/fleets/nope/apply", json={})).status_code == 409
    assert git(repo, "status", "--porcelain") == ""


async def test_a_diff_is_read_only_from_inside_its_run(client, home, tmp_path) -> None:
    run = "20261202-020202-beef"
    folder = write_run(home, run, "finished")
    secret = tmp_path / "secret.diff"
    secret.write_text("+TOP-SECRET\n")
    inside = folder / "attempts" / "t1-2.diff"
    inside.parent.mkdir()
    inside.write_text("+fine\n")
    (folder / "attempts" / "t1-3.diff").symlink_to(secret)
    results = [
        {"task": "t1", "attempt": n, "status": "passed", "diff": str(path)}
        for n, path in ((1, secret), (2, inside), (3, folder / "attempts" / "t1-3.diff"))
    ]
    store.write_json(folder / "results.json", {"chosen": {"t1": 1}, "attempts": results})
    url = f"/api/fleets/{run}/diff"
    assert (await client.get(url, params={"task": "t1", "attempt": 2})).text == "+fine\n"
    for n in (1, 3):  # a recorded path outside the run, a symlink leading out
        response = await client.get(url, params={"task": "t1", "attempt": n})
        assert response.status_code == 404 and "TOP-SECRET" not in response.text
    response = await client.get(url, params={"task": "../t1", "attempt": 2})
    assert response.status_code == 404
