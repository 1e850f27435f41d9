"""A stream retried mid-answer: the app shows the answer once (the broken attempt's part goes)."""

from __future__ import annotations

from lever.tui.answer import AnswerCell

from .conftest import type_text, wait_for

ANSWER = "The folder has one file, hello.py."


async def test_a_retried_stream_shows_the_answer_once(make_app) -> None:
    app, _ = make_app([{"text": ANSWER, "drop_after": 3}, {"text": ANSWER}])
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "what is here?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 1, what="turn end")
        answers = [c for c in app.transcript.children if isinstance(c, AnswerCell)]
        assert [a.streamed for a in answers] == [ANSWER]
