"""`/review` in the app: lever's read-only review of the changes, its report as a cell."""

from __future__ import annotations

import json
from pathlib import Path

from lever.protocol import ItemAdded
from lever.store.rollout import find_rollout, read_rollout
from lever.tui.review import ReviewCell

from .conftest import git, screen_text, type_text, wait_for

FINDINGS = {
    "findings": [
        {
            "title": "Misspelled greeting",
            "body": "It prints helo; the test expects hello.",
            "file": "hello.py",
            "line_start": 1,
            "priority": 1,
            "confidence": 0.9,
        },
        {
            "title": "Outside the diff",
            "file": "other.py",
            "line_start": 3,
            "priority": 2,
            "confidence": 0.5,
        },
    ],
    "verdict": "needs_changes",
    "summary": "The greeting is misspelled.",
}
CORRECT = {"findings": [], "verdict": "correct", "summary": "Fine."}


def review_answer(report: dict) -> dict:
    return {"text": "Reviewed.\n\n```json\n" + json.dumps(report) + "\n```"}


async def run(pilot, line: str, expect: str) -> str:
    await type_text(pilot, line)
    await pilot.press("enter")
    await wait_for(pilot, lambda: expect in screen_text(pilot.app), what=expect)
    return screen_text(pilot.app)


def _messages_text(body: dict) -> str:
    return "\n".join(str(message.get("content")) for message in body["messages"])


async def test_review_of_uncommitted_changes_is_a_cell_from_the_stream(
    make_app, git_repo: Path, lever_home: Path
) -> None:
    (git_repo / "hello.py").write_text("print('helo')\n")
    read = {"name": "shell", "arguments": {"command": "cat hello.py"}, "call_id": "r1"}
    app, server = make_app(
        [{"tool_calls": [read]}, review_answer(FINDINGS), {"text": "Fixed the greeting."}]
    )
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_for(pilot, lambda: app.session is not None)
        text = await run(pilot, "/review", "verdict: needs changes")
        await wait_for(pilot, lambda: not app.busy)
        text = screen_text(app)
        assert "review · uncommitted changes" in text
        assert "[P1] hello.py:1  Misspelled greeting (confidence 0.90)" in text
        assert "It prints helo; the test expects hello." in text
        assert "1 finding dropped (outside the diff's files or lines)" in text
        assert "$ cat hello.py · ✓ exit 0" in text  # the reviewer's command, streamed
        assert "# Code review" not in text  # its task is not shown as a message
        (cell,) = [c for c in app.transcript.children if isinstance(c, ReviewCell)]
        assert cell.verdict == "needs_changes"
        # The reviewer ran read-only, never asking, on the real diff.
        review_request = _messages_text(server.bodies()[0])
        assert (
            "<sandbox>read-only" in review_request and "never</approval_policy>" in review_request
        )
        assert "-print('hello')" in review_request and "+print('helo')" in review_request
        assert (git_repo / "hello.py").read_text() == "print('helo')\n"
        # The report is in the app's own session: the model sees it with the next message.
        await type_text(pilot, "fix the P1 finding")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1)
        assert "Misspelled greeting" in _messages_text(server.bodies()[-1])
        assert app.session is not None
        session_id = app.session.id
        # …and in its rollout, so a resumed session draws the same cell.
        await run(pilot, "/new", "lever · fake-model")
        assert not [c for c in app.transcript.children if isinstance(c, ReviewCell)]
        await run(pilot, f"/resume {session_id}", "verdict: needs changes")
        assert "[P1] hello.py:1  Misspelled greeting" in screen_text(app)
    events = list(read_rollout(find_rollout(lever_home, session_id)))
    notes = [e for e in events if isinstance(e, ItemAdded) and "<review>" in str(e.item)]
    assert len(notes) == 1


async def test_review_arguments_errors_and_interrupt(make_app, git_repo: Path) -> None:
    (git_repo / "hello.py").write_text("print('hello, world')\n")
    git(git_repo, "commit", "-qam", "Greet the world")
    sha = git(git_repo, "rev-parse", "HEAD").strip()
    app, server = make_app([review_answer(CORRECT), {"text": "never sent", "delay_ms": 5000}])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.session is not None)
        await run(pilot, "/review", "/review: nothing to review (no changes)")
        await run(pilot, "/review --base nope", "no branch or commit named 'nope'")
        await run(pilot, "/review --bogus", "unexpected '--bogus'")
        assert server.requests == []
        text = await run(pilot, "/review --commit HEAD", "verdict: correct")
        assert f"review · commit {sha[:10]} (Greet the world)" in text
        assert f"commit {sha[:10]}" in _messages_text(server.bodies()[0])
        await wait_for(pilot, lambda: not app.busy)
        # Esc stops a running review; the app's session is untouched and usable.
        await type_text(pilot, "/review --commit HEAD")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(server.requests) == 2, what="second review request")
        await pilot.press("escape")
        await wait_for(
            pilot, lambda: "/review: the review stopped (interrupted)" in screen_text(app)
        )
        await wait_for(pilot, lambda: not app.busy)
        assert app.session is not None and app.session.open_turn is False
