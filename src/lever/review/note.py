"""A review as a note in a session's history: the app's `/review` records its report this way.

The note is a harness message (tag `review`): the model reads it with the next turn (so "fix the
P1 finding" works), the rollout keeps it, and the app renders its review cell from it — live and
again when the session is resumed. Its body is one heading line, then the report as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from lever.review.findings import ReviewReport

TAG = "review"


@dataclass(frozen=True)
class ReviewNote:
    #: What was reviewed: "uncommitted changes (…)", "commit 1a2b3c4 (…)", …
    description: str
    report: ReviewReport


def note_body(description: str, report: ReviewReport) -> str:
    heading = f"The person ran /review on {description}; a read-only reviewer reported (JSON):"
    return f"{heading}\n{report.model_dump_json()}"


def read_note(text: str) -> ReviewNote | None:
    """The note in a `<review>` message's text; None when it is not one."""
    body = text.strip().removeprefix(f"<{TAG}>").removesuffix(f"</{TAG}>").strip()
    heading, _, payload = body.partition("\n")
    description = heading.removeprefix("The person ran /review on ").partition(";")[0]
    try:
        report = ReviewReport.model_validate_json(payload)
    except (ValidationError, ValueError):
        return None
    return ReviewNote(description, report)
