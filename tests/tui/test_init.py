"""`/init`: a turn with the packaged init prompt that writes AGENTS.md; never over an old one."""

from __future__ import annotations

from pathlib import Path

from lever.agent.prompts import load_prompt

from .conftest import screen_text, type_text, wait_for

AGENTS = "# hello\n\nRun `python3 hello.py`; it prints hello.\n"


async def test_init_writes_agents_md_then_refuses_to_overwrite(make_app, workdir: Path) -> None:
    look = {"name": "shell", "arguments": {"command": "ls"}, "call_id": "l1"}
    added = "".join(f"+{line}\n" for line in AGENTS.splitlines())
    patch = f"*** Begin Patch\n*** Add File: AGENTS.md\n{added}*** End Patch\n"
    app, server = make_app(
        [
            {"tool_calls": [look]},
            {"tool_calls": [{"name": "apply_patch", "arguments": {"input": patch}}]},
            {"text": "Wrote AGENTS.md."},
        ]
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await type_text(pilot, "/init")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1, what="the /init turn")
        assert (workdir / "AGENTS.md").read_text() == AGENTS
        sent = server.bodies()[0]["messages"][-1]["content"]
        assert sent == load_prompt("init").strip()
        text = screen_text(app)
        # The long prompt is folded in the transcript; the model got it whole.
        assert "\u203a # /init: write a starter AGENTS.md for this repository" in text
        assert "more lines" in text and "Say in your final answer" not in text
        assert "$ ls · ✓ exit 0" in text and "patched AGENTS.md" in text
        assert "Wrote AGENTS.md." in text
        await type_text(pilot, "/init")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "/init does not overwrite it" in screen_text(app))
        assert len(server.requests) == 3 and not app.busy
        assert (workdir / "AGENTS.md").read_text() == AGENTS
