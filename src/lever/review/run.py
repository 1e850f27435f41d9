"""The review session: a read-only, never-asking session given the review prompt and the diff.

The session itself is built by the caller (`lever review` uses the CLI's `build_session` with
sandbox `read-only` and approval `never`); this module drives it and reads the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lever.agent.prompts import load_prompt
from lever.agent.session import Session
from lever.protocol import TurnFinished
from lever.review.diff import CollectedDiff
from lever.review.findings import Dropped, Review, ReviewReport, check_findings, parse_review

#: Bytes of diff put in the task; past that the model is told to read the rest with git.
MAX_DIFF_CHARS = 200_000

REVIEW_SANDBOX = "read-only"
REVIEW_APPROVAL = "never"


class ReviewError(Exception):
    """The review did not produce a usable answer (model error, no review JSON twice)."""

    def __init__(self, message: str, finished: TurnFinished | None = None) -> None:
        super().__init__(message)
        self.finished = finished


@dataclass
class ReviewOutcome:
    report: ReviewReport
    dropped: list[Dropped] = field(default_factory=list)
    #: True when the first final answer was unreadable and the model was asked again.
    asked_again: bool = False


def review_task(diff: CollectedDiff) -> str:
    text = diff.text
    note = ""
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS]
        note = f"\n(The diff is cut after {MAX_DIFF_CHARS:,} characters; read the rest with git.)\n"
    return (
        f"{load_prompt('review').rstrip()}\n\n## The change: {diff.description}\n\n"
        f"```diff\n{text}\n```\n{note}"
    )


def empty_report() -> ReviewReport:
    return ReviewReport(findings=[], verdict="correct", summary="Nothing to review: no changes.")


async def run_review(session: Session, diff: CollectedDiff) -> ReviewOutcome:
    """Start the session, run the review turn (and one retry), close it, check the findings."""
    session.start()
    reason = "error"
    try:
        review, asked_again = await _ask(session, diff)
        reason = "done"
    finally:
        await session.close(reason)
    checked, dropped = check_findings(review, diff.files)
    report = ReviewReport(**checked.model_dump(), dropped=len(dropped))
    return ReviewOutcome(report, dropped, asked_again)


async def _ask(session: Session, diff: CollectedDiff) -> tuple[Review, bool]:
    finished = await session.run_turn(review_task(diff))
    _check_finished(finished)
    review = parse_review(finished.last_message)
    if review is not None:
        return review, False
    finished = await session.run_turn(load_prompt("review_retry").strip())
    _check_finished(finished)
    review = parse_review(finished.last_message)
    if review is None:
        raise ReviewError(
            "the model's final answer held no review JSON, twice; its last answer was:\n"
            + (finished.last_message.strip() or "(empty)"),
            finished,
        )
    return review, True


def _check_finished(finished: TurnFinished) -> None:
    if finished.reason != "done":
        detail = f": {finished.detail}" if finished.detail else ""
        raise ReviewError(f"the review stopped ({finished.reason}){detail}", finished)
