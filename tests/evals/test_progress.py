"""The run's progress: a bar on a terminal (attempts done of tasks x k, passing so far, ETA),
one line per attempt elsewhere."""

from __future__ import annotations

import io
import re

import pytest

from lever.evals.progress import Progress, eta_seconds
from lever.evals.report import AttemptRecord


def record(task: str, attempt: int, passed: bool) -> AttemptRecord:
    outcome = "passed" if passed else "grade_failed"
    return AttemptRecord(task_id=task, attempt=attempt, outcome=outcome, passed=passed)


def test_eta_is_the_mean_time_per_attempt_times_the_attempts_left() -> None:
    assert eta_seconds(10.0, 2, 6) == pytest.approx(20.0)
    assert eta_seconds(10.0, 0, 6) is None
    assert eta_seconds(10.0, 6, 6) == 0.0


def test_the_bar_counts_attempts_and_passes() -> None:
    out = io.StringIO()
    with Progress(4, out, bar=True) as progress:
        progress(record("a", 0, True))
        progress(record("a", 1, False))
        progress(record("b", 0, True))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "3/4 attempts, passing 2" in text
    assert "eta" in text and "━" in text  # the bar itself


def test_plain_lines_name_each_attempt() -> None:
    out = io.StringIO()
    progress = Progress(2, out, bar=False)
    progress(record("a", 0, False))
    progress(record("a", 1, True))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] a #0: grade_failed  (passing 0, eta ")
    assert lines[1].startswith("[2/2] a #1: pass  (passing 1, eta 0s)")
