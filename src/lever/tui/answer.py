"""The model's answer cell: Markdown, rendered while it streams in.

Imported off the UI thread once the session is open (see `LeverApp._open`), so the first answer
does not pause the screen while Markdown loads.
"""

from __future__ import annotations

from textual.await_complete import AwaitComplete
from textual.widgets import Markdown

from lever.safe_text import TerminalFilter, terminal_safe


class AnswerCell(Markdown):
    def __init__(self, text: str = "") -> None:
        text = terminal_safe(text)
        super().__init__(text, classes="cell answer")
        self.streamed = text
        self._filter = TerminalFilter()

    def append(self, markdown: str) -> AwaitComplete:
        # Model text may carry escape sequences aimed at the terminal.
        return super().append(self._filter.feed(markdown))
