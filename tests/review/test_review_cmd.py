"""`lever review` end to end: a scripted model reviews a fixture repository with a planted bug."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lever.review.findings import ReviewReport
from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "schema" / "review.schema.json"


def finding(file: str, start: int, end: int, priority: int, confidence: float, title: str) -> dict:
    return {
        "title": title,
        "body": f"Explanation of {title}.",
        "file": file,
        "line_start": start,
        "line_end": end,
        "priority": priority,
        "confidence": confidence,
    }


FINDINGS = [
    finding("report.py", 4, 5, 2, 0.4, "report does not round"),
    finding("calc.py", 5, 5, 0, 0.95, "average divides by n - 1"),
    finding("README.md", 1, 1, 1, 0.9, "outside the diff"),
    finding("calc.py", 40, 42, 1, 0.8, "a line that does not exist"),
]


def answer(findings: list[dict], verdict: str = "needs_changes") -> dict[str, Any]:
    review = {"findings": findings, "verdict": verdict, "summary": "average() is off by one."}
    return {"text": f"I checked the change.\n\n```json\n{json.dumps(review, indent=1)}\n```"}


TOUCH = {
    "tool_calls": [
        {"name": "shell", "arguments": {"command": "touch marker"}, "call_id": "call_touch"}
    ]
}

EXPECTED_TEXT = """\
verdict: needs changes
summary: average() is off by one.

2 findings:
[P0] calc.py:5  average divides by n - 1 (confidence 0.95)
    Explanation of average divides by n - 1.
[P2] report.py:4-5  report does not round (confidence 0.40)
    Explanation of report does not round.

2 findings dropped (outside the diff's files or lines)
"""


def review(server: FakeModelServer, repo: Path, env: dict[str, str], *flags: str) -> Any:
    flags = (*flags, "--base-url", server.base_url, "--model", "fake-model")
    return run_lever("review", *flags, env=env, cwd=repo)


def tool_outputs(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def test_text_output_drops_bad_findings_and_cannot_write(
    buggy_repo: Path, review_env: dict[str, str]
) -> None:
    with FakeModelServer([TOUCH, answer(FINDINGS)]) as server:
        done = review(server, buggy_repo, review_env, "--uncommitted")
        bodies = server.bodies()
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPECTED_TEXT
    assert "dropped 'outside the diff': README.md is not part of the diff" in done.stderr
    # The task is the review prompt and the diff (the untracked file included).
    task = bodies[0]["messages"][-1]["content"]
    assert task.startswith("# Code review")
    assert "+def report(values):" in task and "min(low, max(x, high))" in task
    # The write attempt: refused by the read-only sandbox, and nothing was written.
    assert not (buggy_repo / "marker").exists()
    (refusal,) = tool_outputs(bodies[1])
    # bubblewrap reports EROFS, Landlock EACCES: whichever mechanism this machine has.
    assert "Read-only file system" in refusal or "Permission denied" in refusal
    assert "approval policy is `never`" in refusal
    (rollout,) = Path(review_env["LEVER_HOME"]).glob("sessions/*/*/*/rollout-*.jsonl")
    started = next(iter(read_rollout(rollout)))
    assert (started.sandbox, started.approval) == ("read-only", "never")  # type: ignore[union-attr]


def test_json_output_against_base_validates(buggy_repo: Path, review_env: dict[str, str]) -> None:
    # Against main only calc.py changed: report.py is outside this diff too.
    with FakeModelServer([answer(FINDINGS)]) as server:
        done = review(server, buggy_repo, review_env, "--base", "main", "--json")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["dropped"] == 3
    assert [(f["file"], f["line_start"]) for f in output["findings"]] == [("calc.py", 5)]
    assert output["verdict"] == "needs_changes"
    ReviewReport.model_validate(output)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(output, json.loads(SCHEMA_FILE.read_text()))


def test_unreadable_answer_is_asked_for_again_once(
    buggy_repo: Path, review_env: dict[str, str]
) -> None:
    with FakeModelServer([{"text": "Looks good to me."}, answer([], "correct")]) as server:
        done = review(server, buggy_repo, review_env, "--commit", "HEAD", "--json")
        bodies = server.bodies()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "findings": [],
        "verdict": "correct",
        "summary": "average() is off by one.",
        "dropped": 0,
    }
    assert "did not end with a review JSON" in bodies[1]["messages"][-1]["content"]


def test_unreadable_twice_is_an_error(buggy_repo: Path, review_env: dict[str, str]) -> None:
    with FakeModelServer([{"text": "Fine."}, {"text": "Still fine."}]) as server:
        done = review(server, buggy_repo, review_env)
    assert done.returncode == 1
    assert "no review JSON, twice" in done.stderr and "Still fine." in done.stderr
    assert done.stdout == ""


def test_nothing_to_review(buggy_repo: Path, review_env: dict[str, str]) -> None:
    done = run_lever("review", "--commit", "nope", env=review_env, cwd=buggy_repo)
    assert done.returncode == 2 and "no commit named 'nope'" in done.stderr
    clean = run_lever("review", "--base", "feature", env=review_env, cwd=buggy_repo)
    assert clean.returncode == 0, clean.stderr  # no model needed for an empty diff
    assert clean.stdout == "verdict: correct\nsummary: Nothing to review: no changes.\n"
