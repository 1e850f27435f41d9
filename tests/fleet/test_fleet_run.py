"""Must-show #1: 3 tasks x 4 attempts, some passing, some failing, on the local executor; the
results, the selection and `fleet apply` checked exactly; `fleet clean` leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path

from lever.fleet import events
from lever.testing.fake_model import FakeModelServer

from .conftest import (
    Plan,
    fleet_branches,
    git,
    leftovers_under,
    model_flags,
    responder,
    run_id_of,
    run_lever,
)

GOOD = "printf 'good\\n' > out/result.txt"
OK = "printf 'ok\\n' > status.txt"
PLANS = {
    # t1: 3 and 4 tie on size (1 line); 3 spent fewer tokens.
    ("t1", 1): Plan("printf 'bad\\n' > out/result.txt"),
    ("t1", 2): Plan("printf 'good\\nmore\\n' > out/result.txt"),
    ("t1", 3): Plan(GOOD, tokens=50),
    ("t1", 4): Plan(GOOD, tokens=500),
    # t2: 1 and 2 tie on everything: the lower attempt number wins.
    ("t2", 1): Plan(OK, tokens=100),
    ("t2", 2): Plan(OK, tokens=100),
    ("t2", 3): Plan("printf 'no\\n' > status.txt"),
    ("t2", 4): Plan("true"),
    # t3: nothing passes; attempt 4 never answers and hits the turn limit (exit code 3).
    ("t3", 1): Plan("touch out/other.txt"),
    ("t3", 2): Plan("touch out/other.txt"),
    ("t3", 3): Plan("true"),
    ("t3", 4): Plan("true", calls=99),
}
TASKS = [
    {"id": "t1", "prompt": "write good", "verify": "head -n1 out/result.txt | grep -qx good"},
    # The uncommitted change and the untracked file reach every attempt.
    {
        "id": "t2",
        "prompt": "mark ok",
        "verify": "grep -qx ok status.txt && test -f extra.txt && grep -qx draft notes.txt",
    },
    {"id": "t3", "prompt": "impossible", "verify": "test -f never.txt"},
]
#: (task, attempt) -> status, verify exit, exit code, files, +, -, tokens, turns
EXPECTED = {
    ("t1", 1): ("failed", 1, 0, 1, 1, 0, 20, 2),
    ("t1", 2): ("passed", 0, 0, 1, 2, 0, 20, 2),
    ("t1", 3): ("passed", 0, 0, 1, 1, 0, 60, 2),
    ("t1", 4): ("passed", 0, 0, 1, 1, 0, 510, 2),
    ("t2", 1): ("passed", 0, 0, 1, 1, 1, 110, 2),
    ("t2", 2): ("passed", 0, 0, 1, 1, 1, 110, 2),
    ("t2", 3): ("failed", 1, 0, 1, 1, 1, 20, 2),
    ("t2", 4): ("failed", 1, 0, 0, 0, 0, 20, 2),
    ("t3", 1): ("failed", 1, 0, 1, 0, 0, 20, 2),
    ("t3", 2): ("failed", 1, 0, 1, 0, 0, 20, 2),
    ("t3", 3): ("failed", 1, 0, 0, 0, 0, 20, 2),
    ("t3", 4): ("failed", 1, 3, 0, 0, 0, 30, 3),
}
HEADER = ["task", "attempt", "result", "verify", "exit", "files", "+", "-", "tokens", "turns"]


def table_rows(text: str) -> list[list[str]]:
    """The results table without its timing column (index 10)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["task", "attempt"])
    rows = []
    for line in lines[start : start + 13]:
        cells = line.split()
        rows.append(cells[:10] + cells[11:])
    return rows


def expected_rows() -> list[list[str]]:
    chosen = {("t1", 3), ("t2", 1)}
    rows = [[*HEADER, "chosen"]]
    for (task, n), (status, verify, code, files, plus, minus, tokens, turns) in EXPECTED.items():
        cells = [task, str(n), status, str(verify), str(code), str(files), str(plus), str(minus)]
        rows.append([*cells, str(tokens), str(turns), *(["*"] if (task, n) in chosen else [])])
    return rows


def test_three_tasks_four_attempts_selected_applied_cleaned(repo, env, lever_home, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    status_before = git(repo, "status", "--porcelain")
    with FakeModelServer(responder=responder(PLANS)) as server:
        result = run_lever(
            "fleet", "run", "--tasks", str(tasks), "-k", "4", "--concurrency", "4",
            "--max-turns", "3", *model_flags(server), env=env, cwd=repo,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr  # t3 has no passing attempt
    assert "no attempt passed for: t3" in result.stderr
    run = run_id_of(result.stderr)
    folder = lever_home / "fleets" / run
    assert table_rows(result.stdout) == expected_rows()

    # The records: every attempt, the choice, atomic JSON (no temp files left).
    results = json.loads((folder / "results.json").read_text())
    assert results["chosen"] == {"t1": 3, "t2": 1, "t3": None}
    for a in results["attempts"]:
        got = (a["status"], a["verify_exit"], a["exit_code"], a["files"], a["added"])
        got += (a["removed"], a["tokens"], a["turns"])
        assert got == EXPECTED[(a["task"], a["attempt"])], a
        assert Path(a["rollout"]).is_file() and Path(a["diff"]).is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["attempts"]) == 12
    stream = events.read(folder)  # the same run as an event stream
    types = [e.type for e in stream]
    assert types[0] == "run_started" and types[-2:] == ["selection", "run_finished"]
    assert types.count("attempt_started") == types.count("attempt_finished") == 12
    assert stream[-2].data["chosen"] == results["chosen"]
    finished = {(e.data["task"], e.data["attempt"]): e.data["result"] for e in stream[1:-2]
                if e.type == "attempt_finished"}  # fmt: skip
    assert finished == {(a["task"], a["attempt"]): a for a in results["attempts"]}
    assert not list(folder.glob(".*.tmp"))
    assert sorted(fleet_branches(repo)) == sorted(a["branch"] for a in manifest["attempts"])

    # Nothing reached the main worktree yet; `show` gives the same table and the chosen diffs.
    assert git(repo, "status", "--porcelain") == status_before
    shown = run_lever("fleet", "show", run[:10], env=env, cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert table_rows(shown.stdout) == expected_rows()
    assert "== t1: attempt 3, 1 files, +1 -0" in shown.stdout and "+good" in shown.stdout
    assert "== t2: attempt 1, 1 files, +1 -1" in shown.stdout and "-todo\n+ok" in shown.stdout
    assert "== t3: no attempt passed" in shown.stdout

    applied = run_lever("fleet", "apply", run, env=env, cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "task t1 attempt 3: applied (1 files, +1 -0)",
        "task t2 attempt 1: applied (1 files, +1 -1)",
        "task t3: no passing attempt, skipped",
    ]
    assert (repo / "out" / "result.txt").read_text() == "good\n"
    assert (repo / "status.txt").read_text() == "ok\n"
    assert (repo / "notes.txt").read_text() == "notes\ndraft\n"  # the person's change stays

    cleaned = run_lever("fleet", "clean", run, env=env, cwd=repo)
    assert cleaned.returncode == 0, cleaned.stderr
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert fleet_branches(repo) == []
    assert not (folder / "worktrees").exists()
    assert leftovers_under(lever_home) == []
    listed = run_lever("fleet", "list", env=env, cwd=repo)
    assert listed.stdout.startswith(run) and "finished, cleaned" in listed.stdout
    assert "5/12 passed" in listed.stdout
