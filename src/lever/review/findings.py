"""Review findings: the models, reading them from the model's answer, checking them on the diff.

The model ends its review with one JSON object (in a ```json block or bare) shaped like
`Review`. Findings are then checked against the diff: one that names a file the diff does not
touch, or lines the new version of that file does not have, is dropped and counted.

The JSON Schema of `lever review --json` output (`ReviewReport`) is checked in at
docs/schema/review.schema.json; regenerate it with `python -m lever.review.findings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Verdict = Literal["correct", "needs_changes"]


class Finding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, description="One line: what is wrong.")
    body: str = Field(default="", description="Why it is wrong and what would fix it.")
    file: str = Field(min_length=1, description="Path relative to the repository root.")
    line_start: int = Field(ge=1, description="First line, in the new version of the file.")
    line_end: int = Field(ge=1, description="Last line (inclusive), in the new version.")
    priority: int = Field(ge=0, le=3, description="0 (P0, must fix now) to 3 (P3, nit).")
    confidence: float = Field(ge=0, le=1, description="How sure the reviewer is, 0 to 1.")

    @model_validator(mode="before")
    @classmethod
    def _one_line(cls, data: Any) -> Any:
        # A single-line finding may give only `line_start`.
        if isinstance(data, dict) and "line_end" not in data and "line_start" in data:
            data = {**data, "line_end": data["line_start"]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Finding:
        if self.line_end < self.line_start:
            raise ValueError("line_end is before line_start")
        return self

    @property
    def location(self) -> str:
        if self.line_end == self.line_start:
            return f"{self.file}:{self.line_start}"
        return f"{self.file}:{self.line_start}-{self.line_end}"


class Review(BaseModel):
    model_config = ConfigDict(extra="ignore")

    findings: list[Finding] = Field(default_factory=list)
    verdict: Verdict
    summary: str = ""


class ReviewReport(Review):
    """What `lever review --json` prints: the checked review and how many findings were dropped."""

    dropped: int = Field(
        default=0, ge=0, description="Findings dropped: outside the diff's files or lines."
    )


@dataclass(frozen=True)
class Dropped:
    finding: Finding
    reason: str


def _normalize(path: str, files: Mapping[str, int]) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    if path not in files and path[:2] in ("a/", "b/") and path[2:] in files:
        return path[2:]  # the model copied a diff header
    return path


def check_findings(review: Review, files: Mapping[str, int]) -> tuple[Review, list[Dropped]]:
    """Keep the findings inside the diff's files and their new line ranges."""
    kept: list[Finding] = []
    dropped: list[Dropped] = []
    for finding in review.findings:
        path = _normalize(finding.file, files)
        if path not in files:
            dropped.append(Dropped(finding, f"{path} is not part of the diff"))
            continue
        lines = files[path]
        if finding.line_end > lines:
            dropped.append(Dropped(finding, f"{path} has {lines} lines, not {finding.line_end}"))
            continue
        kept.append(finding.model_copy(update={"file": path}))
    kept.sort(key=lambda f: (f.priority, -f.confidence, f.file, f.line_start))
    return review.model_copy(update={"findings": kept}), dropped


_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


def parse_review(text: str) -> Review | None:
    """The review in the model's final answer: the last ```json block or bare JSON object that
    is a valid `Review`; None when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)][::-1]
    candidates.append(text.strip())
    for candidate in candidates:
        review = _validate(candidate)
        if review is not None:
            return review
    return _last_object(text)


def _validate(candidate: str) -> Review | None:
    try:
        return Review.model_validate_json(candidate.strip())
    except (ValidationError, ValueError):
        return None


def _last_object(text: str) -> Review | None:
    """A bare object somewhere in prose: try each `{` from the end."""
    decoder = json.JSONDecoder()
    for start in reversed([i for i, ch in enumerate(text) if ch == "{"]):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict) and "verdict" in value:
            try:
                return Review.model_validate(value)
            except ValidationError:
                continue
    return None


def format_report(report: ReviewReport) -> str:
    """The report for people: `lever review` prints it, the app's review cell shows it."""
    verdict = "correct" if report.verdict == "correct" else "needs changes"
    lines = [f"verdict: {verdict}"]
    if report.summary:
        lines.append(f"summary: {report.summary}")
    if report.findings:
        lines.append("")
        count = len(report.findings)
        lines.append(f"{count} finding{'s' if count != 1 else ''}:")
    for finding in sorted(report.findings, key=lambda f: (f.priority, -f.confidence)):
        lines.append(
            f"[P{finding.priority}] {finding.location}  {finding.title} "
            f"(confidence {finding.confidence:.2f})"
        )
        lines.extend(f"    {line}" for line in finding.body.strip().splitlines())
    if report.dropped:
        lines.append("")
        lines.append(
            f"{report.dropped} finding{'s' if report.dropped != 1 else ''} dropped "
            "(outside the diff's files or lines)"
        )
    return "\n".join(lines) + "\n"


def review_schema() -> dict[str, Any]:
    schema = ReviewReport.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    return json.dumps(review_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
