"""Reading the review from the model's answer and checking findings against the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lever.review.findings import (
    Finding,
    Review,
    ReviewReport,
    check_findings,
    parse_review,
    schema_text,
)

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "schema" / "review.schema.json"

REVIEW = {
    "findings": [
        {
            "title": "t",
            "body": "b",
            "file": "calc.py",
            "line_start": 5,
            "priority": 0,
            "confidence": 0.9,
        }
    ],
    "verdict": "needs_changes",
    "summary": "s",
}


def test_fenced_block_wins_over_prose() -> None:
    text = f"Looked at it.\n\n```json\n{json.dumps(REVIEW)}\n```\n"
    review = parse_review(text)
    assert review is not None
    assert review.findings[0].line_end == 5  # one line: line_end defaults to line_start


def test_bare_object_alone_or_after_prose() -> None:
    assert parse_review(json.dumps(REVIEW)) is not None
    review = parse_review("Here is my review: " + json.dumps(REVIEW) + " Thanks.")
    assert review is not None and review.verdict == "needs_changes"


@pytest.mark.parametrize(
    "text",
    [
        "Looks fine to me.",
        '```json\n{"findings": [], "verdict": "maybe"}\n```',
        '{"findings": [{"title": "x"}], "verdict": "correct"}',
        "",
    ],
)
def test_unreadable_answers(text: str) -> None:
    assert parse_review(text) is None


def test_range_must_be_ordered() -> None:
    bad = {**REVIEW["findings"][0], "line_start": 6, "line_end": 2}  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="line_end is before line_start"):
        Finding.model_validate(bad)


def _finding(file: str, start: int, end: int, priority: int = 1) -> Finding:
    return Finding(
        title=f"{file}:{start}",
        file=file,
        line_start=start,
        line_end=end,
        priority=priority,
        confidence=0.5,
    )


def test_check_drops_outside_files_and_lines() -> None:
    review = Review(
        verdict="needs_changes",
        findings=[
            _finding("calc.py", 9, 9, priority=2),
            _finding("./calc.py", 1, 5, priority=0),
            _finding("b/report.py", 5, 5, priority=3),
            _finding("README.md", 1, 1),  # not in the diff
            _finding("calc.py", 9, 10),  # calc.py has 9 lines
            _finding("gone.py", 1, 1),  # deleted: 0 lines
        ],
    )
    kept, dropped = check_findings(review, {"calc.py": 9, "report.py": 5, "gone.py": 0})
    assert [(f.file, f.line_start, f.line_end) for f in kept.findings] == [
        ("calc.py", 1, 5),
        ("calc.py", 9, 9),
        ("report.py", 5, 5),
    ]
    assert [d.reason for d in dropped] == [
        "README.md is not part of the diff",
        "calc.py has 9 lines, not 10",
        "gone.py has 0 lines, not 1",
    ]


def test_checked_in_schema_is_generated() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "regenerate: uv run python -m lever.review.findings > docs/schema/review.schema.json"
    )


def test_report_validates_against_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    report = ReviewReport(**REVIEW, dropped=2)  # type: ignore[arg-type]
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.validate(json.loads(report.model_dump_json()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**json.loads(report.model_dump_json()), "dropped": -1}, schema)
