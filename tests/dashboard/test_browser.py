"""The dashboard in a real browser: Debian's Chromium driven by Python Playwright.

Playwright cannot download its browsers here, so it launches /usr/bin/chromium (apt package
`chromium`, installed by .ci/run). Without it these tests skip and say so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from lever.testing.fake_model import FakeModelServer

from .browser_fixtures import ARGS, BROWSER_MARKS, CHROMIUM

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="playwright is a dev dependency"
)
pytestmark = BROWSER_MARKS


def test_the_transcript_renders_escaped(dashboard, recorded, browser_page, artifacts) -> None:
    page, problems = browser_page
    page.goto(dashboard)
    assert "token=" not in page.url  # the cookie took over
    page.locator(f'#sessions li[data-id="{recorded}"]').wait_for()
    page.screenshot(path=str(artifacts / "sessions.png"), full_page=True)
    page.locator(f'#sessions li[data-id="{recorded}"] a.title').click()
    page.wait_for_url(f"**/s/{recorded}")
    answer = page.locator(".cell.answer").last
    answer.wait_for()
    assert "<script>window.__pwned = 1</script>" in answer.inner_text()
    assert '<img src=x onerror="window.__pwned = 2">' in answer.inner_text()
    assert answer.locator("strong").inner_text() == "done"  # the Markdown subset still works
    assert page.locator("#transcript script, #transcript img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert "$ cat greet.py" in page.locator(".cell.tool").first.inner_text()
    assert page.locator(".diff .add").first.inner_text() == '+    return "hello"'
    assert "in " in page.locator("#tokens").inner_text()
    page.screenshot(path=str(artifacts / "session.png"), full_page=True)
    print(f"screenshot: {artifacts / 'session.png'}")
    page.keyboard.press("?")  # the shortcut list
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    page.keyboard.press("g")
    page.wait_for_url(dashboard.split("?")[0])
    assert problems == []


def test_narrow_and_dark(dashboard, recorded, artifacts) -> None:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 380, "height": 800}, color_scheme="dark")
        page = context.new_page()
        page.goto(dashboard.replace("/?", f"/s/{recorded}?"))
        page.locator(".cell.answer").last.wait_for()
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        page.screenshot(path=str(artifacts / "narrow-dark.png"), full_page=True)
        browser.close()
    assert background == "rgb(15, 17, 21)"
    assert not overflow  # nothing wider than a phone


def live_script() -> list[dict[str, Any]]:
    slow = {"name": "shell", "arguments": {"command": "sleep 2; echo step-one-done"}}
    return [
        {"text": "Step one.", "tool_calls": [slow]},
        {"delay_ms": 1500, "text": "All done, **live**."},
    ]


def test_a_task_started_from_the_page_streams_live(
    dashboard, repo, browser_page, artifacts
) -> None:
    page, problems = browser_page
    with FakeModelServer(live_script()) as server:
        page.goto(dashboard)
        page.fill("#task-prompt", "do the slow thing")
        page.select_option("#task-cwd", str(repo))
        page.fill("#task-model", "fake-model")
        page.fill("#task-base-url", server.base_url)
        page.click("#task-start")
        page.wait_for_url("**/s/*")
        # The command shows while the model has not answered yet: events arrive live.
        page.locator(".cell.tool").wait_for(timeout=20000)
        assert page.get_by_text("All done").count() == 0
        assert page.locator("#interrupt").is_visible()
        page.screenshot(path=str(artifacts / "live.png"), full_page=True)
        page.get_by_text("All done").wait_for(timeout=30000)
        page.locator(".cell.turn").last.wait_for()
        assert "All done, live." in page.locator(".cell.answer").last.inner_text()
        assert "step-one-done" in page.locator(".cell.tool pre.output").inner_text()
        stats = page.evaluate("window.leverStats")
        seqs = [
            int(s)
            for s in page.eval_on_selector_all("[data-seq]", "n => n.map(e => e.dataset.seq)")
        ]
    assert stats["duplicates"] == 0
    assert stats["received"] == sorted(set(stats["received"])) and len(stats["received"]) >= 8
    assert seqs == sorted(set(seqs))
    assert problems == []


def test_chromium_is_the_debian_one() -> None:
    """What CI installs: the path the tests launch must be the apt package's binary."""
    assert shutil.which("chromium") == str(CHROMIUM)


def start_task(
    page: Any, dashboard: str, repo: Path, base_url: str, prompt: str, approval: str = ""
) -> None:
    page.goto(dashboard)
    page.keyboard.press("n")  # the shortcut focuses the prompt
    page.keyboard.type(prompt)
    page.select_option("#task-cwd", str(repo))
    if approval:
        page.select_option("#task-approval", approval)
    page.fill("#task-model", "fake-model")
    page.fill("#task-base-url", base_url)
    page.click("#task-start")
    page.wait_for_url("**/s/*")


def test_interrupt_from_the_page(dashboard, repo, browser_page, artifacts) -> None:
    page, problems = browser_page
    script = [
        {
            "text": "Waiting.",
            "tool_calls": [{"name": "shell", "arguments": {"command": "sleep 60"}}],
        },
        {"text": "unused"},
    ]
    with FakeModelServer(script) as server:
        start_task(page, dashboard, repo, server.base_url, "wait a minute")
        page.locator(".cell.tool").wait_for(timeout=20000)
        page.locator("#interrupt").wait_for()
        started = time.monotonic()
        page.keyboard.press("i")
        page.get_by_text("turn finished: interrupted").wait_for(timeout=15000)
        assert time.monotonic() - started < 15
        page.get_by_text("session ended").wait_for(timeout=10000)
        assert not page.locator("#interrupt").is_visible()
        page.screenshot(path=str(artifacts / "interrupted.png"), full_page=True)
    assert problems == []


def test_approve_and_deny_from_the_page(dashboard, repo, browser_page, artifacts) -> None:
    page, problems = browser_page
    touch = [
        {"name": "shell", "arguments": {"command": f"touch {name}.txt"}}
        for name in ("approved", "denied")
    ]
    script = [
        {"text": "First.", "tool_calls": [touch[0]]},
        {"text": "Second.", "tool_calls": [touch[1]]},
        {"text": "Finished touching."},
    ]
    with FakeModelServer(script) as server:
        start_task(page, dashboard, repo, server.base_url, "touch two files", "untrusted")
        box = page.locator("#approval")
        box.wait_for(timeout=20000)
        assert "$ touch approved.txt" in box.inner_text()
        assert "null" not in box.inner_text()
        page.screenshot(path=str(artifacts / "approval.png"), full_page=True)
        page.set_viewport_size({"width": 400, "height": 800})  # narrow and dark: still usable
        page.emulate_media(color_scheme="dark")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert box.locator("button").count() == 3 and box.locator("button").last.is_visible()
        page.screenshot(path=str(artifacts / "approval-400-dark.png"))
        page.keyboard.press("y")
        page.get_by_text("approval: approve_once by person").wait_for(timeout=15000)
        page.locator("#approval", has_text="touch denied.txt").wait_for(timeout=20000)
        page.keyboard.press("n")
        page.get_by_text("approval: deny by person").wait_for(timeout=15000)
        page.get_by_text("Finished touching.").wait_for(timeout=20000)
        assert not box.is_visible()
    assert (repo / "approved.txt").exists() and not (repo / "denied.txt").exists()
    assert problems == []
