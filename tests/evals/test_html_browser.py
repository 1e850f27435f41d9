"""Must-show 7: the HTML report opens in headless Chromium without console errors and shows its
plots. Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), driven by Python
Playwright with the dashboard tests' fixture; without it the test skips and says so.

The screenshot is kept as a test artifact: in $LEVER_TEST_ARTIFACTS when set (CI can upload
that folder), else in the test's tmp_path (pytest keeps the last three runs)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lever.evals.html import render_html
from lever.evals.pricing import Price, attempt_cost
from lever.evals.report import AttemptRecord, RunReport, summarize

from ..dashboard.browser_fixtures import CHROMIUM, browser_page

__all__ = ["browser_page"]  # the fixture, shared with the dashboard's browser tests

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed: `apt-get install chromium` (the Debian package)",
    ),
    pytest.mark.xdist_group("chromium"),  # one browser at a time on a small machine
    pytest.mark.timeout(180),
]

OUTCOMES = ["passed", "grade_failed", "timeout", "agent_error", "model_api_error"]


def sample_report() -> RunReport:
    price = Price(input_per_mtok=0.5, output_per_mtok=1.5)
    attempts = []
    for t in range(6):
        for i in range(4):
            outcome = "passed" if (t + i) % (t + 2) else OUTCOMES[(t + i) % len(OUTCOMES)]
            tokens = 1000 * (t + 1)
            attempts.append(
                AttemptRecord(
                    task_id=f"task-{t}", attempt=i, outcome=outcome, passed=outcome == "passed",
                    input_tokens=tokens, output_tokens=tokens // 5,
                    cost_usd=attempt_cost(price, tokens, tokens // 5), wall_seconds=3.0,
                )
            )  # fmt: skip
    summary, tasks = summarize(attempts, {f"task-{t}": ["bug"] for t in range(6)}, seed=0)
    return RunReport(
        lever_version="0", suite="lever-mini", mode="agent", agent="lever", provider="local",
        model="qwen2.5-coder-1.5b", price=price, k=4, started="2026-12-02T01:00:00+00:00",
        finished="2026-12-02T01:30:00+00:00", summary=summary, tasks=tasks, attempts=attempts,
    )  # fmt: skip


def test_the_report_page_shows_its_plots_without_errors(browser_page, tmp_path: Path) -> None:
    page, problems = browser_page
    html = tmp_path / "report.html"
    html.write_text(render_html(sample_report()), encoding="utf-8")
    page.goto(html.as_uri())
    boxes = page.evaluate(
        "[...document.querySelectorAll('svg')].map(s => {"
        " const r = s.getBoundingClientRect();"
        " return [s.querySelector('title').textContent, r.width, r.height]; })"
    )
    titles = [title for title, _, _ in boxes]
    assert titles == [
        "pass@k and pass^k over k",
        "pass@1 against $ per attempt, per task",
        "outcome of every attempt",
    ]
    assert all(width > 100 and height > 100 for _, width, height in boxes), boxes
    # What each plot draws, as the browser laid it out.
    assert page.locator("svg polyline").count() == 2  # the pass@k and pass^k curves
    assert page.locator("svg >> nth=1").locator("circle").count() == 6  # a dot per task
    assert page.locator("svg >> nth=2").locator("rect").count() == 24  # a cell per attempt
    assert page.locator("table tr").count() == 7  # a header and a row per task
    assert "cost $" in page.locator("p").first.inner_text()
    shot = tmp_path / "eval-report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    artifacts = os.environ.get("LEVER_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    assert problems == []  # no console error, no page error, no dialog
