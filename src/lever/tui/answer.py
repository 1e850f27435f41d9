"""The model's answer cell: Markdown, rendered while it streams in.

Imported off the UI thread once the session is open (see `LeverApp._open`), so the first answer
does not pause the screen while Markdown loads.
"""

from __future__ import annotations

from textual.widgets import Markdown


class AnswerCell(Markdown):
    def __init__(self, text: str = "") -> None:
        super().__init__(text, classes="cell answer")
        self.streamed = text
