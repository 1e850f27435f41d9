"""After a retried stream, `lever exec`'s progress shows the answer once, not twice."""

from __future__ import annotations

import io
from pathlib import Path

from lever.cli.render import HumanRenderer
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

ANSWER = "The build is fixed: the import was missing."


async def rendered(tmp_path: Path, script: list[dict[str, object]]) -> str:
    out = io.StringIO()
    with FakeModelServer(script) as server:
        session = fake_session(server, tmp_path)
        session.subscribe(HumanRenderer(out))
        session.start()
        finished = await session.run_turn("fix the build")
        await session.close()
    assert finished.reason == "done" and finished.last_message.endswith(ANSWER[-20:])
    return out.getvalue()


async def test_a_stream_cut_after_the_whole_answer_shows_it_once(tmp_path: Path) -> None:
    # role chunk + the three pieces of text, then the connection breaks before the finish.
    text = await rendered(tmp_path, [{"text": ANSWER, "drop_after": 4}, {"text": ANSWER}])
    assert "retry:" in text
    assert text.count("the import was missing") == 1, text


async def test_a_stream_cut_mid_answer_shows_only_the_rest(tmp_path: Path) -> None:
    text = await rendered(tmp_path, [{"text": ANSWER, "drop_after": 2}, {"text": ANSWER}])
    assert text.count("The build is") == 1, text
    assert text.count("missing.") == 1, text
    assert "…" in text  # the rest continues after the retry notice


async def test_a_different_second_answer_is_marked_as_a_restart(tmp_path: Path) -> None:
    other = "Now: " + ANSWER
    text = await rendered(tmp_path, [{"text": ANSWER, "drop_after": 3}, {"text": other}])
    assert "(the answer starts again)" in text
    assert text.rstrip().endswith(other)
