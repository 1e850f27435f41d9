"""`lever fleet resume`: a run whose driver was SIGKILLed (or stopped by SIGTERM) is finished
by running only the attempts without a result, each half-done one in a fresh worktree."""

from __future__ import annotations

import json
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from lever.fleet import events
from lever.testing.fake_model import FakeModelServer

from .conftest import (
    attempt_of,
    fleet_branches,
    fleet_running,
    folders_running,
    leftovers_under,
    run_id_of,
    run_lever,
    tool_outputs,
    wait_for,
)

SLOW = "sleep 37.75"
#: Before the kill a slow attempt leaves a file, then sleeps; the fresh restart must not see it.
HALF = f"touch out/half.txt; {SLOW}"
GOOD = "printf 'good\\n' > out/r.txt"
VERIFY = "grep -qx good out/r.txt && test ! -e out/half.txt"


class Script:
    """The fake model: attempt 1 of each task finishes at once; attempt 2 hangs in `sleep`
    until `phase` becomes "after", when every new attempt finishes at once."""

    def __init__(self) -> None:
        self.phase = "before"
        self.requests: dict[tuple[str, int], list[str]] = {}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        task, n = attempt_of(body)
        self.requests.setdefault((task, n), []).append(self.phase)
        usage = {"input_tokens": 10, "output_tokens": 0}
        if tool_outputs(body):
            return {"text": f"done {task}#{n}", "usage": usage}
        slow = n == 2 and self.phase == "before"
        call = {"name": "shell", "arguments": {"command": HALF if slow else GOOD}}
        return {"tool_calls": [call], "usage": usage}


def results_of(folder: Path) -> dict[str, Any]:
    path = folder / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {"attempts": []}


def started_run(
    server: FakeModelServer, repo: Path, env: dict[str, str]
) -> AbstractContextManager[subprocess.Popen[str]]:
    args = ("a", "b", "-k", "2", "--concurrency", "2", "--verify", VERIFY, "--max-turns", "3")
    return fleet_running(server, repo, env, *args)


def run_until_both_slow(
    proc: subprocess.Popen[str], lever_home: Path
) -> tuple[Path, list[dict[str, Any]]]:
    """Wait for attempt 1 of both tasks to be recorded and attempt 2 of both to hang."""
    wait_for(lambda: len(list((lever_home / "fleets").glob("*/manifest.json"))) == 1)
    (folder,) = (lever_home / "fleets").iterdir()
    wait_for(
        lambda: (
            len(results_of(folder)["attempts"]) == 2 and len(folders_running(lever_home, SLOW)) == 2
        )
    )
    return folder, results_of(folder)["attempts"]


def resume_and_check(
    script: Script, folder: Path, before: list[dict[str, Any]], repo: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script.phase = "after"
    resumed = run_lever("fleet", "resume", folder.name[:12], env=env, cwd=repo)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 4 attempts left" in resumed.stderr
    results = results_of(folder)
    assert results["chosen"] == {"t1": 1, "t2": 1}
    by_key = {(a["task"], a["attempt"]): a for a in results["attempts"]}
    assert sorted(by_key) == [("t1", 1), ("t1", 2), ("t2", 1), ("t2", 2)]
    # The finished attempts are kept as recorded, never run again.
    for old in before:
        assert by_key[(old["task"], old["attempt"])] == old
        assert set(script.requests[(old["task"], old["attempt"])]) == {"before"}
    # The half-done ones restarted in a fresh worktree: no half.txt, verification passed.
    for task in ("t1", "t2"):
        again = by_key[(task, 2)]
        assert again["status"] == "passed" and (again["files"], again["added"]) == (1, 1)
        assert "half.txt" not in Path(again["diff"]).read_text()
        assert script.requests[(task, 2)][-1] == "after"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["resumed"]) == 1
    check_events(folder)
    return resumed


def check_events(folder: Path) -> None:
    """Both drivers' events in one stream, numbered without gaps; the grid ends complete."""
    stream = events.read(folder)
    assert [e.seq for e in stream] == list(range(1, len(stream) + 1))
    starts = [e for e in stream if e.type == "run_started"]
    assert [(e.data["resumed"], e.data["done"], e.data["attempts"]) for e in starts] == [
        (False, 0, 4),
        (True, 2, 4),
    ]
    second = stream[stream.index(starts[1]) :]
    assert sorted((e.data["task"], e.data["attempt"]) for e in second[1:5]) == [
        ("t1", 2), ("t1", 2), ("t2", 2), ("t2", 2)
    ]  # fmt: skip
    assert [e.type for e in second[-2:]] == ["selection", "run_finished"]
    assert second[-1].data == {"status": "finished", "passed": 2, "results": 4}
    grid = events.Grid.of(folder)
    assert grid.status == "finished" and grid.chosen == {"t1": 1, "t2": 1}
    assert set(grid.cells.values()) == {"passed"} and len(grid.cells) == 4


@pytest.mark.parametrize("mechanism", ["default", "landlock"])
def test_a_sigkilled_driver_is_resumed(mechanism, repo, env, lever_home) -> None:
    # Under Landlock the killed driver's commands outlive it (bubblewrap's die with it): resume
    # must stop them before it removes their worktrees.
    if mechanism == "landlock":
        env["LEVER_SANDBOX"] = "landlock"
    script = Script()
    with FakeModelServer(responder=script) as server:
        with started_run(server, repo, env) as proc:
            folder, before = run_until_both_slow(proc, lever_home)
            proc.kill()  # SIGKILL: no handler runs, nothing is recorded as interrupted
            proc.wait(timeout=30)
        assert json.loads((folder / "manifest.json").read_text())["status"] == "running"
        survivors = folders_running(lever_home, SLOW)
        resume_and_check(script, folder, before, repo, env)
    assert leftovers_under(lever_home) == []
    print(f"{mechanism}: {len(survivors)} attempts' commands outlived the driver")
    assert run_lever("fleet", "clean", folder.name, env=env, cwd=repo).returncode == 0
    assert fleet_branches(repo) == []


def test_sigterm_stops_everything_and_resume_finishes(repo, env, lever_home) -> None:
    script = Script()
    with FakeModelServer(responder=script) as server:
        with started_run(server, repo, env) as proc:
            folder, before = run_until_both_slow(proc, lever_home)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert f"`lever fleet resume {run_id_of(err)}` finishes the run" in err
        # Every attempt's command died with the run; the manifest says so.
        assert leftovers_under(lever_home) == []
        assert json.loads((folder / "manifest.json").read_text())["status"] == "interrupted"
        resume_and_check(script, folder, before, repo, env)
    assert leftovers_under(lever_home) == []


def test_resume_refuses_a_cleaned_run_and_an_unknown_one(repo, env, lever_home) -> None:
    unknown = run_lever("fleet", "resume", "nope", env=env, cwd=repo)
    assert unknown.returncode == 2 and "no fleet run 'nope'" in unknown.stderr
    folder = lever_home / "fleets" / "20260101-000000-abcd"
    folder.mkdir(parents=True)
    manifest = {"run": folder.name, "status": "interrupted", "cleaned": True, "tasks": []}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    cleaned = run_lever("fleet", "resume", folder.name, env=env, cwd=repo)
    assert cleaned.returncode == 2, cleaned.stderr
    assert "was cleaned" in cleaned.stderr and "Traceback" not in cleaned.stderr
