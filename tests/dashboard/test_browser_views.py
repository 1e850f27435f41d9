"""Fleets and eval reports in a real browser (Debian's Chromium through Playwright): a fleet
started from the New task form fills its grid live, its winner's diff shows and is applied;
a running one is interrupted from its page and its worktrees cleaned;
an eval report opens with its plots, two runs are compared; narrow and dark layouts hold.
Screenshots go to $LEVER_TEST_ARTIFACTS/TEST when set (else the test's temporary folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lever.testing.fake_model import FakeModelServer

from .browser_fixtures import ARGS, BROWSER_MARKS, CHROMIUM
from .builders import COMMANDS, VERIFY, attempt_responder, git, two_reports

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="playwright is a dev dependency"
)
pytestmark = BROWSER_MARKS


def start_fleet(page: Any, dashboard: str, repo: Path, base_url: str) -> None:
    page.goto(dashboard)
    page.fill("#task-prompt", "write the winner file")
    page.select_option("#task-cwd", str(repo))
    page.fill("#task-provider", "openai-chat")
    page.fill("#task-model", "fake-model")
    page.fill("#task-base-url", base_url)
    page.fill("#task-attempts", "2")
    page.fill("#task-verify", VERIFY)
    page.click("#task-start")
    page.wait_for_url("**/f/*")


def test_a_fleet_from_the_page_and_its_winner_applied(
    dashboard, repo, browser_page, artifacts
) -> None:
    page, problems = browser_page
    with FakeModelServer(responder=attempt_responder(COMMANDS, delay_ms=1500)) as server:
        start_fleet(page, dashboard, repo, server.base_url)
        grid = page.locator("table.grid")
        grid.wait_for(timeout=20000)
        # Live: the grid shows the run before its attempts have finished.
        assert page.locator("#fleet-head .badge").inner_text() == "running"
        page.screenshot(path=str(artifacts / "fleet-running.png"), full_page=True)
        page.locator("td.chosen", has_text="passed").wait_for(timeout=90000)
        page.locator("#fleet-head .badge", has_text="finished").wait_for(timeout=30000)
    cells = page.locator("table.grid td")
    assert "failed" in cells.nth(0).inner_text() and "★ passed" in cells.nth(1).inner_text()
    assert "tok" in cells.nth(1).inner_text()
    diff = page.locator(".task-diff .diff")
    diff.wait_for()
    assert "+winner" in diff.inner_text()
    page.screenshot(path=str(artifacts / "fleet.png"), full_page=True)
    assert not (repo / "out" / "winner.txt").exists()
    page.click("#apply")
    page.locator("#apply-result.ok").wait_for(timeout=20000)
    assert "applied" in page.locator("#apply-result").inner_text()
    assert (repo / "out" / "winner.txt").read_text() == "winner\n"
    # The loser's diff is one click away; it is not what was applied.
    page.locator("table.grid td.clickable").first.click()
    page.locator(".task-diff h3", has_text="attempt 1").wait_for()
    assert not (repo / "out" / "loser.txt").exists()
    page.screenshot(path=str(artifacts / "fleet-applied.png"), full_page=True)
    page.set_viewport_size({"width": 400, "height": 800})  # narrow and dark
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "fleet-400-dark.png"), full_page=True)
    assert problems == []


def test_a_running_fleet_interrupted_then_cleaned_from_its_page(
    dashboard, repo, browser_page, artifacts
) -> None:
    """The model is slow (a minute per answer): both attempts are still running when
    Interrupt is clicked; the run stops, recorded `interrupted`; Clean up… asks first, then
    removes the attempts' worktrees and branches."""
    page, problems = browser_page
    with FakeModelServer(responder=attempt_responder(COMMANDS, delay_ms=60000)) as server:
        start_fleet(page, dashboard, repo, server.base_url)
        page.locator("table.grid td.cell-running").nth(1).wait_for(timeout=60000)
        assert page.locator("#interrupt-fleet").is_enabled()
        assert page.locator("#clean-fleet").is_disabled()  # not while it runs
        page.screenshot(path=str(artifacts / "fleet-before-interrupt.png"), full_page=True)
        page.click("#interrupt-fleet")
        page.locator("#fleet-head .badge", has_text="interrupted").wait_for(timeout=30000)
        assert page.locator("#apply-result.ok").inner_text() == "the run is interrupted"
    assert page.locator("table.grid td.cell-running").count() == 0
    assert page.locator("#interrupt-fleet").is_disabled()
    run = page.url.rsplit("/", 1)[1]
    assert git(repo, "branch", "--list", f"lever/fleet/{run}/*").strip()
    page.click("#clean-fleet")
    page.locator("#confirm-clean").wait_for()
    page.screenshot(path=str(artifacts / "fleet-clean-confirm.png"), full_page=True)
    assert git(repo, "branch", "--list", f"lever/fleet/{run}/*").strip()  # asked, not done
    page.click("#clean-yes")
    page.locator("#apply-result.ok", has_text="removed").wait_for(timeout=30000)
    assert page.locator("#apply-result").inner_text() == "removed 4 worktrees and branches"
    assert git(repo, "branch", "--list", f"lever/fleet/{run}/*") == ""
    assert page.locator("#clean-fleet").is_disabled()
    page.screenshot(path=str(artifacts / "fleet-cleaned.png"), full_page=True)
    assert problems == []


def test_an_eval_report_and_a_comparison(dashboard, env, browser_page, artifacts) -> None:
    page, problems = browser_page
    two_reports(Path(env["LEVER_HOME"]))
    page.goto(dashboard.replace("/?", "/evals?"))
    page.locator('tr[data-name="before.json"]').wait_for()
    page.locator('tr[data-name="before.json"] a').click()
    page.wait_for_url("**/e/before.json")
    frame = page.frame_locator("#report")
    frame.locator("svg").first.wait_for(timeout=15000)
    assert "demo-suite" in frame.locator("h1").inner_text()
    summary = page.locator(".box .meta").first.inner_text()
    assert "3 tasks" in summary and "3/6 attempts passed" in summary
    page.screenshot(path=str(artifacts / "eval.png"), full_page=True)
    page.goto(dashboard.replace("/?", "/evals?"))
    page.check('input[value="before.json"]')
    page.check('input[value="after.json"]')
    page.click("#compare")
    page.wait_for_url("**/evals/compare?*")
    page.locator("#compare-table").wait_for()
    better = page.locator("tr.better").all_inner_texts()
    assert [row.split()[0] for row in better] == ["dates", "parse"]
    assert "B \u2212 A = 50.0 points" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(artifacts / "compare.png"), full_page=True)
    assert problems == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_narrow_pages(dashboard, env, recorded, scheme, artifacts) -> None:
    """At 400 px, in both schemes, no page is wider than the window."""
    two_reports(Path(env["LEVER_HOME"]))
    paths = {"sessions": "/", "session": f"/s/{recorded}", "evals": "/evals"}
    paths |= {"eval": "/e/before.json", "fleets": "/fleets"}
    paths["compare"] = "/evals/compare?a=before.json&b=after.json"
    wide = []
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 400, "height": 800}, color_scheme=scheme)
        page = context.new_page()
        page.goto(dashboard)
        for name, path in paths.items():
            page.goto(dashboard.split("/?")[0] + path)
            page.wait_for_load_state("networkidle")
            if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                wide.append(name)
            page.screenshot(path=str(artifacts / f"{name}-400-{scheme}.png"), full_page=True)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        browser.close()
    assert wide == []
    assert background == ("rgb(15, 17, 21)" if scheme == "dark" else "rgb(255, 255, 255)")
