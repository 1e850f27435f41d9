"""Text screenshots of the main screens at 80x24 and 160x48, checked line by line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from lever.tui.app import LeverApp
from lever.tui.launch import Launch

from .conftest import screen_text, type_text, wait_for

SIZES = [(80, 24), (160, 48)]
PLAN = {
    "plan": [
        {"step": "Read hello.py", "status": "completed"},
        {"step": "Run it", "status": "in_progress"},
    ]
}


def check_frame(text: str, size: tuple[int, int]) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    width, height = size
    assert len(lines) == height
    assert all(len(line) <= width for line in lines)
    return lines


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_main_screen_after_a_turn(make_app, size: tuple[int, int], tmp_path: Path) -> None:
    app, _ = make_app(
        [
            {"tool_calls": [{"name": "update_plan", "arguments": PLAN}]},
            {
                "text": "Running it.",
                "tool_calls": [{"name": "shell", "arguments": {"command": "python3 hello.py"}}],
            },
            {"text": "It prints `hello`."},
        ],
        prompt="run hello.py",
    )
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1 and "prints" in screen_text(app))
        text = screen_text(app)
        (tmp_path / f"main-{size[0]}x{size[1]}.txt").write_text(text)
        lines = check_frame(text, size)
        assert "\u203a run hello.py" in text
        assert "$ python3 hello.py · ✓ exit 0 ·" in text
        assert "It prints hello." in text
        assert "plan (1/2 done)" in text and "▸ Run it" in text
        assert lines[-2].strip() == "Ask lever to do something · / for commands · @ for files"
        status = lines[-1]
        assert status.lstrip().startswith("fake-model")
        assert "workspace-write" in status and "on-request" in status and "cost n/a" in status
        assert "ready" in status


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_approval_screen(make_app, size: tuple[int, int]) -> None:
    call = {
        "name": "shell",
        "arguments": {"command": "touch /tmp/x", "escalate": True, "justification": "write /tmp"},
    }
    app, _ = make_app([{"tool_calls": [call]}, {"text": "ok"}])
    async with app.run_test(size=size) as pilot:
        await type_text(pilot, "touch it")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "[y] yes, once" in screen_text(app), what="prompt")
        lines = check_frame(screen_text(app), size)
        text = "\n".join(lines)
        assert "? run this command OUTSIDE the sandbox?" in text
        assert "$ touch /tmp/x" in text and "the model says: write /tmp" in text
        keys = [line for line in lines if "[y] yes, once" in line]
        assert keys and "[a] always this session" in text and "[n] no" in text
        assert "working… esc to interrupt" in lines[-1] or "working" in lines[-1]
        await pilot.press("n")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_model_screen(workdir: Path, size: tuple[int, int]) -> None:
    app = LeverApp(Launch(cwd=workdir, args=argparse.Namespace()))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: "No model is configured" in screen_text(app))
        lines = check_frame(screen_text(app), size)
        text = "\n".join(lines)
        assert "lever demo" in text and "OPENAI_API_KEY" in text
        assert lines[-1].lstrip().startswith("no model ·")


REVIEW = {
    "findings": [
        {
            "title": "Misspelled greeting",
            "body": "It prints helo.",
            "file": "hello.py",
            "line_start": 1,
            "priority": 1,
            "confidence": 0.9,
        }
    ],
    "verdict": "needs_changes",
    "summary": "The greeting is misspelled.",
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_review_screen(make_app, git_repo: Path, size: tuple[int, int]) -> None:
    (git_repo / "hello.py").write_text("print('helo')\n")
    app, _ = make_app([{"text": "```json\n" + json.dumps(REVIEW) + "\n```"}])
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.session is not None)
        await type_text(pilot, "/review")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "verdict: needs changes" in screen_text(app) and not app.busy)
        lines = check_frame(screen_text(app), size)
        text = "\n".join(lines)
        heading = next(i for i, line in enumerate(lines) if "review · uncommitted changes" in line)
        body = [line.strip(" █▌▎▍▊▋▉▐") for line in lines[heading : heading + 8]]
        assert body[:3] == [
            "review · uncommitted changes (staged, unstaged and untracked)",
            "verdict: needs changes",
            "summary: The greeting is misspelled.",
        ]
        assert "[P1] hello.py:1  Misspelled greeting (confidence 0.90)" in text
        assert "reviewing uncommitted changes" in text and "read-only" in text
        assert lines[-1].lstrip().startswith("fake-model") and "ready" in lines[-1]
