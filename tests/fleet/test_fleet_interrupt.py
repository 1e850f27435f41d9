"""Ctrl-C on a running `lever fleet run`: every attempt's processes die, the run is recorded as
interrupted with all its worktrees, and `fleet clean` removes them all."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from lever.testing.fake_model import FakeModelServer
from tests.e2e.conftest import lever_bin

from .conftest import (
    Plan,
    fleet_branches,
    folders_running,
    git,
    leftovers_under,
    model_flags,
    responder,
)

#: A command that outlives the test unless lever kills it (the marker finds it in /proc).
SLOW = "sleep 37.25"


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_sigint_kills_every_attempt_and_clean_removes_every_worktree(repo, env, lever_home):
    plans = {(t, n): Plan(SLOW) for t in ("t1", "t2") for n in (1, 2)}
    with FakeModelServer(responder=responder(plans)) as server:
        proc = subprocess.Popen(
            [lever_bin(), "fleet", "run", "a", "b", "-k", "2", "--concurrency", "3",
             "--verify", "true", *model_flags(server)],
            env=env, cwd=repo, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # Three attempts run at once, each inside its `sleep`; the fourth waits its turn.
            wait_for(lambda: len(folders_running(lever_home, SLOW)) == 3)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert out.splitlines()[0].split()[:2] == ["task", "attempt"]  # the summary, empty
    assert "interrupted; 4 attempts did not finish" in err
    assert leftovers_under(lever_home) == []

    (folder,) = (lever_home / "fleets").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    made = [a for a in manifest["attempts"] if Path(a["path"]).exists()]
    assert len(made) == 3 and len(fleet_branches(repo)) == 3

    cleaned = subprocess.run(
        [lever_bin(), "fleet", "clean", folder.name],
        env=env, cwd=repo, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout == "removed 6 worktrees and branches\n"
    assert fleet_branches(repo) == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (folder / "worktrees").exists()


def test_sigint_during_verification_kills_the_verify_command(repo, env, lever_home):
    plans = {("t1", n): Plan("true") for n in (1, 2)}
    slow_verify = "sleep 37.5"
    with FakeModelServer(responder=responder(plans)) as server:
        proc = subprocess.Popen(
            [lever_bin(), "fleet", "run", "a", "-k", "2", "--concurrency", "2",
             "--verify", slow_verify, *model_flags(server)],
            env=env, cwd=repo, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: len(folders_running(lever_home, slow_verify)) == 2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert leftovers_under(lever_home) == []
    (folder,) = (lever_home / "fleets").iterdir()
    assert json.loads((folder / "results.json").read_text())["attempts"] == []
    cleaned = subprocess.run(
        [lever_bin(), "fleet", "clean", folder.name],
        env=env, cwd=repo, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert cleaned.returncode == 0 and fleet_branches(repo) == []
