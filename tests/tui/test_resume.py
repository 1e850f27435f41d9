"""`lever resume` in the app: the past transcript drawn from the rollout, then it goes on."""

from __future__ import annotations

import json
from pathlib import Path

from lever.store.rollout import find_rollout
from lever.tools.apply_patch import make_patch
from lever.tui.cells import CommandCell, PatchCell

from .conftest import screen_text, type_text, wait_for

PATCH = make_patch("hello.py", "print('hello')\n", "print('hello, resumed')\n")
PAST_TURNS = [
    {
        "text": "Running it first.",
        "tool_calls": [{"name": "shell", "arguments": {"command": "echo ran-before"}}],
    },
    {"tool_calls": [{"name": "apply_patch", "arguments": {"input": PATCH}}]},
    {"text": "Patched hello.py."},
]


async def record_session(make_app, lever_home: Path) -> Path:
    """One finished turn with a command, a patch and an answer; its rollout."""
    app, _ = make_app(PAST_TURNS, prompt="patch the greeting")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1, what="the recorded turn")
        assert app.session is not None
        session_id = app.session.id
    return find_rollout(lever_home, session_id)


async def test_resume_renders_the_past_then_continues(make_app, lever_home: Path) -> None:
    rollout = await record_session(make_app, lever_home)
    app, server = make_app([{"text": "Still here."}], resume=rollout)
    async with app.run_test(size=(100, 50)) as pilot:
        await wait_for(pilot, lambda: "Patched hello.py." in screen_text(app), what="the past")
        text = screen_text(app)
        assert "\u203a patch the greeting" in text
        assert "Running it first." in text
        assert "$ echo ran-before · ✓ exit 0" in text
        (command,) = [c for c in app.transcript.children if isinstance(c, CommandCell)]
        assert "ran-before" in command.output and command.collapsed
        (patch,) = [c for c in app.transcript.children if isinstance(c, PatchCell)]
        assert patch.files == ["hello.py"] and "+print('hello, resumed')" in text
        assert server.requests == []  # a finished session waits for the person
        await type_text(pilot, "what did you change?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Still here." in screen_text(app))
        history = json.dumps(server.bodies()[0]["messages"])
        assert "patch the greeting" in history and "Patched hello.py." in history
    lines = rollout.read_text().splitlines()
    assert sum('"session_started"' in line for line in lines) == 2  # one rollout, continued


async def test_resume_carries_on_a_turn_cut_short(make_app, lever_home: Path) -> None:
    rollout = await record_session(make_app, lever_home)
    # As if lever was killed while the command ran: the rollout ends at its tool_started.
    lines = rollout.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"tool_started"' in line)
    rollout.write_text("\n".join(lines[: cut + 1]) + "\n")
    app, server = make_app([{"text": "Carried on after the crash."}], resume=rollout)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1, what="the continued turn")
        text = screen_text(app)
        assert "\u203a patch the greeting" in text
        assert "$ echo ran-before · ✗ error" in text  # answered as interrupted on restore
        assert "Carried on after the crash." in text
        sent = json.dumps(server.bodies()[0]["messages"])
        assert "interrupted: lever stopped before the command finished" in sent
