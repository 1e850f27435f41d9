"""Reasoning summaries in `lever exec`'s human output: shown, set apart, dimmed on a terminal."""

from __future__ import annotations

import io

from lever.cli.render import HumanRenderer
from lever.protocol import ItemAdded, TextDelta
from lever.protocol.items import AssistantMessage, Reasoning


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_summary_lines_are_shown_before_the_answer() -> None:
    out = io.StringIO()
    render = HumanRenderer(out)
    render(ItemAdded(item=Reasoning(summary="**Plan**\n\nread, then fix", encrypted_content="x")))
    render(TextDelta(delta="Done."))
    render(ItemAdded(item=AssistantMessage(text="Done.")))
    assert out.getvalue() == "  · **Plan**\n  ·\n  · read, then fix\nDone.\n"


def test_summary_is_dimmed_on_a_terminal_and_empty_reasoning_shows_nothing() -> None:
    out = Terminal()
    render = HumanRenderer(out)
    render(ItemAdded(item=Reasoning(summary="", encrypted_content="opaque")))
    render(ItemAdded(item=Reasoning(summary="think")))
    assert out.getvalue() == "\x1b[2m  · think\x1b[0m\n"
