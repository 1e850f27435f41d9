"""The interactive app shows a sub-agent: its start, its commands and its end as cells."""

from __future__ import annotations

from lever.tui.cells import NoticeCell
from tests.tui.conftest import lever_home, make_app, screen_text, type_text, wait_for, workdir

__all__ = ["lever_home", "make_app", "workdir"]  # fixtures of the TUI tests, used here


async def test_the_app_shows_a_child_as_cells(make_app) -> None:
    spawn = {
        "name": "spawn_agent",
        "arguments": {"task": "say hi from the child"},
        "call_id": "s1",
    }
    echo = {"name": "shell", "arguments": {"command": "echo hi-child"}, "call_id": "c1"}
    app, server = make_app(
        [
            {"tool_calls": [spawn]},
            {"tool_calls": [echo]},  # the child's first step (one child: the order is known)
            {"text": "the child said hi"},
            {"text": "The parent is done."},
        ]
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "delegate it")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1, what="turn end", timeout=30)
        notes = [c.text for c in app.transcript.children if isinstance(c, NoticeCell)]
        text = screen_text(app)
    child = [note for note in notes if note.startswith("↳ [")]
    assert "sub-agent started (read-only)" in child[0]
    assert child[1].endswith("$ echo hi-child")
    assert "sub-agent done (2 requests" in child[2]
    assert len(child) == 3
    assert "The parent is done." in text
    assert server.turns_left == 0
