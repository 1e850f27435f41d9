"""Must-show #3 (isolation) and `fleet apply` refusing to clobber the person's changes."""

from __future__ import annotations

import json
from pathlib import Path

from lever.testing.fake_model import FakeModelServer

from .conftest import (
    Plan,
    attempt_of,
    git,
    model_flags,
    responder,
    run_id_of,
    run_lever,
    tool_outputs,
)


def test_attempts_writing_the_same_file_never_see_each_other(repo, env, lever_home):
    # Both attempts run at once; each writes its own number, waits, and reads the file back.
    plans = {("t1", n): Plan(f"echo {n} > out/shared.txt; sleep 1; cat out/shared.txt")
             for n in (1, 2)}  # fmt: skip
    seen: dict[int, str] = {}
    verify = 'test "$(cat out/shared.txt)" = "$(basename "$PWD")"'
    status_before = git(repo, "status", "--porcelain")
    with FakeModelServer(responder=_recording(plans, seen)) as server:
        result = run_lever(
            "fleet", "run", "write", "-k", "2", "--concurrency", "2", "--verify", verify,
            *model_flags(server), env=env, cwd=repo,
        )  # fmt: skip
        answered = [len(tool_outputs(r.body)) for r in server.requests]
    assert result.returncode == 0, result.stderr
    # Both attempts had started their command before either reported back: they overlapped.
    assert answered == [0, 0, 1, 1]
    assert "1\n" in seen[1] and "2\n" not in seen[1]
    assert "2\n" in seen[2] and "1\n" not in seen[2]
    run = run_id_of(result.stderr)
    results = json.loads((lever_home / "fleets" / run / "results.json").read_text())
    assert [a["status"] for a in results["attempts"]] == ["passed", "passed"]

    # The main worktree is untouched until `apply`.
    assert not (repo / "out" / "shared.txt").exists()
    assert git(repo, "status", "--porcelain") == status_before
    applied = run_lever("fleet", "apply", run, "--attempt", "2", env=env, cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "out" / "shared.txt").read_text() == "2\n"
    assert run_lever("fleet", "clean", run, env=env, cwd=repo).returncode == 0


def _recording(plans, seen):
    inner = responder(plans)

    def respond(body):
        outputs = tool_outputs(body)
        if outputs:
            seen[attempt_of(body)[1]] = outputs[0]
        return inner(body)

    return respond


def test_apply_refuses_to_clobber_a_conflicting_uncommitted_change(repo, env, lever_home):
    plans = {("t1", 1): Plan("printf 'ok\\n' > status.txt")}
    with FakeModelServer(responder=responder(plans)) as server:
        result = run_lever(
            "fleet", "run", "mark ok", "-k", "1", "--verify", "grep -qx ok status.txt",
            *model_flags(server), env=env, cwd=repo,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = run_id_of(result.stderr)
    (repo / "status.txt").write_text("mine\n")  # the person edits the same line meanwhile

    applied = run_lever("fleet", "apply", run, env=env, cwd=repo)
    assert applied.returncode == 1
    assert "task t1 attempt 1 does not apply cleanly" in applied.stderr
    assert "status.txt" in applied.stderr and "commit or stash your changes" in applied.stderr
    assert applied.stderr.count("\n") == 1  # one line, no traceback
    assert (repo / "status.txt").read_text() == "mine\n"

    # Once the person's change is gone, the same diff applies.
    git(repo, "checkout", "--", "status.txt")
    assert run_lever("fleet", "apply", run, env=env, cwd=repo).returncode == 0
    assert (repo / "status.txt").read_text() == "ok\n"


def test_a_folder_without_git_is_copied_and_applied(tmp_path: Path, env, lever_home):
    folder = tmp_path / "plain"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "value.txt").write_text("1\n")
    plans = {("t1", n): Plan(f"printf '{n}\\n' > src/value.txt") for n in (1, 2)}
    with FakeModelServer(responder=responder(plans)) as server:
        result = run_lever(
            "fleet", "run", "bump", "-k", "2", "--verify", "grep -qx 2 src/value.txt",
            *model_flags(server), env=env, cwd=folder,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = run_id_of(result.stderr)
    results = json.loads((lever_home / "fleets" / run / "results.json").read_text())
    assert results["chosen"] == {"t1": 2}
    assert (folder / "src" / "value.txt").read_text() == "1\n"
    assert not (folder / ".git").exists()
    assert run_lever("fleet", "apply", run, env=env, cwd=folder).returncode == 0
    assert (folder / "src" / "value.txt").read_text() == "2\n"
    assert run_lever("fleet", "clean", run, env=env, cwd=folder).returncode == 0
    assert not (lever_home / "fleets" / run / "worktrees").exists()
