"""Real fleet runs and eval reports for the dashboard tests.

A fleet run is started the way the page starts one (`lever fleet run` against the fake model);
its model plays a different part per attempt, read from the attempt's `<cwd>`
(`…/worktrees/TASK/N`). Eval reports are built with the evals package's own models.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lever.evals.report import AttemptRecord, RunReport, summarize, write_report

_CWD = re.compile(r"<cwd>([^<]*)</cwd>")
VERIFY = "test -f out/winner.txt"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def make_repo(folder: Path) -> Path:
    """A git repository with one commit; new files go in `out/` (under Landlock a
    repository's root, holding the protected `.git`, only has its existing entries writable)."""
    folder.mkdir(exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / "out").mkdir()
    (folder / "out" / ".keep").write_text("")
    (folder / "README").write_text("demo\n")
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return folder


def attempt_responder(
    commands: Mapping[int, str], delay_ms: int = 0
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Attempt N runs `commands[N]`, then answers."""

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        found = _CWD.search(json.dumps(body))
        assert found, "no <cwd> in the request"
        n = int(Path(found.group(1).replace("\\/", "/")).name)
        usage = {"input_tokens": 100 * n, "output_tokens": 5}
        if not any(m.get("role") == "tool" for m in body.get("messages", [])):
            call = {"name": "shell", "arguments": {"command": commands[n]}}
            return {"tool_calls": [call], "usage": usage, "delay_ms": delay_ms}
        return {"text": f"attempt {n} done", "usage": usage}

    return respond


#: Attempt 1 writes the wrong file (its verification fails), attempt 2 the right one.
COMMANDS = {1: "echo loser > out/loser.txt", 2: "echo winner > out/winner.txt"}


def eval_report(path: Path, passes: Mapping[str, list[bool]], model: str) -> RunReport:
    attempts = [
        AttemptRecord(
            task_id=task,
            attempt=i,
            outcome="passed" if ok else "grade_failed",
            passed=ok,
            input_tokens=1000,
            output_tokens=50,
        )
        for task, results in passes.items()
        for i, ok in enumerate(results)
    ]
    summary, tasks = summarize(attempts, {task: [] for task in passes}, seed=0)
    report = RunReport(
        lever_version="test",
        suite="demo-suite",
        mode="agent",
        provider="fake",
        model=model,
        k=max(len(r) for r in passes.values()),
        started="2026-12-01T10:00:00Z",
        finished="2026-12-01T10:05:00Z",
        summary=summary,
        tasks=tasks,
        attempts=attempts,
    )
    write_report(report, path)
    return report


def two_reports(home: Path) -> tuple[str, str]:
    """Run A (worse) and run B (better) over the same three tasks."""
    folder = home / "evals"
    eval_report(
        folder / "before.json",
        {"parse": [False, False], "dates": [True, False], "docs": [True, True]},
        "model-a",
    )
    eval_report(
        folder / "after.json",
        {"parse": [True, True], "dates": [True, True], "docs": [True, True]},
        "model-b",
    )
    return "before.json", "after.json"
