"""Ctrl-C on a running `lever fleet run`: every attempt's processes die, the run is recorded as
interrupted with all its worktrees, and `fleet clean` removes them all."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lever.testing.fake_model import FakeModelServer

from .conftest import (
    Plan,
    fleet_branches,
    fleet_running,
    folders_running,
    git,
    leftovers_under,
    responder,
    run_lever,
    wait_for,
)

#: A command that outlives the test unless lever kills it (the marker finds it in /proc).
SLOW = "sleep 37.25"


def interrupted(
    args: Sequence[str],
    plans: Mapping[tuple[str, int], Plan],
    *,
    running: int,
    marker: str,
    repo: Path,
    env: dict[str, str],
    lever_home: Path,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[int, str, str]:
    """`lever fleet run ARGS` with the fake model playing `plans`, stopped by SIGINT once
    `running` attempts run a command holding `marker` (and `meanwhile` ran): its exit code,
    stdout and stderr."""
    with (
        FakeModelServer(responder=responder(plans)) as server,
        fleet_running(server, repo, env, *args) as proc,
    ):
        wait_for(lambda: len(folders_running(lever_home, marker)) == running)
        meanwhile()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_sigint_kills_every_attempt_and_clean_removes_every_worktree(repo, env, lever_home):
    plans = {(t, n): Plan(SLOW) for t in ("t1", "t2") for n in (1, 2)}

    def clean_refused_while_running() -> None:
        (folder,) = (lever_home / "fleets").iterdir()
        refused = run_lever("fleet", "clean", folder.name, env=env, cwd=repo)
        assert refused.returncode == 1 and "is still running (lever pid" in refused.stderr
        assert len(fleet_branches(repo)) == 3

    # Three attempts run at once, each inside its `sleep`; the fourth waits its turn.
    code, out, err = interrupted(
        ("a", "b", "-k", "2", "--concurrency", "3", "--verify", "true"),
        plans, running=3, marker=SLOW, repo=repo, env=env, lever_home=lever_home,
        meanwhile=clean_refused_while_running,
    )  # fmt: skip
    assert code == 130, err
    assert out.splitlines()[0].split()[:2] == ["task", "attempt"]  # the summary, empty
    assert "interrupted; 4 attempts did not finish" in err
    assert leftovers_under(lever_home) == []

    (folder,) = (lever_home / "fleets").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    made = [a for a in manifest["attempts"] if Path(a["path"]).exists()]
    assert len(made) == 3 and len(fleet_branches(repo)) == 3

    cleaned = run_lever("fleet", "clean", folder.name, env=env, cwd=repo)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout == "removed 6 worktrees and branches\n"
    assert fleet_branches(repo) == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (folder / "worktrees").exists()


def test_sigint_during_verification_kills_the_verify_command(repo, env, lever_home):
    plans = {("t1", n): Plan("true") for n in (1, 2)}
    slow_verify = "sleep 37.5"
    code, _, err = interrupted(
        ("a", "-k", "2", "--concurrency", "2", "--verify", slow_verify),
        plans, running=2, marker=slow_verify, repo=repo, env=env, lever_home=lever_home,
    )  # fmt: skip
    assert code == 130, err
    assert leftovers_under(lever_home) == []
    (folder,) = (lever_home / "fleets").iterdir()
    assert json.loads((folder / "results.json").read_text())["attempts"] == []
    cleaned = run_lever("fleet", "clean", folder.name, env=env, cwd=repo)
    assert cleaned.returncode == 0 and fleet_branches(repo) == []
