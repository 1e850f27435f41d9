"""`/review` in the app: lever's own review (lever.review) of the workspace's changes.

A read-only reviewer session runs beside the app's session; its commands stream into the
transcript as cells. Its report is then recorded in the app's session as a `<review>` note, and
the review cell is drawn from that event — so it is in the rollout, shows again on resume, and
the model sees the findings in the next turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from lever.safe_text import terminal_safe

if TYPE_CHECKING:
    from lever.agent.session import Session
    from lever.review.diff import CollectedDiff
    from lever.tui.app import LeverApp


class ReviewCell(Static):
    """The verdict, the summary and each finding with its place, priority and confidence."""

    def __init__(self, description: str, verdict: str, report_text: str) -> None:
        heading = Text(f"review · {terminal_safe(description)}", style="bold")
        super().__init__(
            Text("\n").join([heading, Text(terminal_safe(report_text).rstrip())]),
            classes=f"cell review {verdict}",
        )
        self.verdict = verdict


def review_cell(note_text: str) -> Static:
    from lever.review.findings import format_report
    from lever.review.note import read_note
    from lever.tui.cells import NoticeCell

    note = read_note(note_text)
    if note is None:
        return NoticeCell(note_text)
    return ReviewCell(note.description, note.report.verdict, format_report(note.report))


async def review_command(app: LeverApp, rest: str) -> None:
    session = app.require_session()
    if session is None:
        return
    if app.busy:
        app.notice("/review waits for the turn to end (esc interrupts it)")
        return
    from lever.review.diff import DiffError, collect_diff, parse_target

    try:
        target = parse_target(rest.split())
        diff = await asyncio.to_thread(collect_diff, session.cwd, target)
    except DiffError as e:
        app.notice(f"/review: {e}", "error")
        return
    if diff.empty:
        app.notice("/review: nothing to review (no changes)")
        return
    app.notice(f"reviewing {diff.description} · read-only · esc stops it")
    app.start_job(_review(app, session, diff))


async def _review(app: LeverApp, session: Session, diff: CollectedDiff) -> None:
    from lever.assembly import build_review_session, limits_from
    from lever.review.note import TAG, note_body
    from lever.review.run import ReviewError, run_review

    opened = app.opened
    if opened is None:
        return
    # The reviewer uses the app's model as it is now (`/model` may have switched it).
    resolved = dataclasses.replace(opened.resolved, model=session.model)
    limits = limits_from(opened.config, app.launch.args)
    reviewer = await asyncio.to_thread(
        build_review_session, resolved, session.cwd, opened.config, limits
    )
    app.attach_side(reviewer)
    try:
        outcome = await run_review(reviewer, diff)
    except ReviewError as e:
        app.notice(f"/review: {e}", "error")
        return
    finally:
        app.side = None
    if app.session is session:
        session.add_note(TAG, note_body(diff.description, outcome.report))
