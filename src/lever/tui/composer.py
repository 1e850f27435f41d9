"""The composer: multi-line input with history, folded large pastes and completion.

Enter sends; Ctrl-J, Alt-Enter or a trailing backslash make a new line. Up on the first line and
Down on the last walk the history. Tab completes a slash command, or a path after `@`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

#: A paste longer than this (characters or lines) shows as one placeholder line.
PASTE_FOLD_CHARS = 800
PASTE_FOLD_LINES = 8
PLACEHOLDER = "Ask lever to do something · / for commands · @ for files"
_PASTE_MARK = re.compile(r"\[pasted (\d+) lines #(\d+)\]")
_MAX_SUGGESTIONS = 6


def path_candidates(cwd: Path, prefix: str, limit: int = 50) -> list[str]:
    """Paths under `cwd` starting with `prefix` (folders end with /), hidden ones only if asked."""
    folder, _, stem = prefix.rpartition("/")
    base = (cwd / folder) if folder else cwd
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem):
            continue
        name = f"{folder}/{entry.name}" if folder else entry.name
        found.append(name + ("/" if entry.is_dir() else ""))
        if len(found) >= limit:
            break
    return found


def common_prefix(words: Sequence[str]) -> str:
    return os.path.commonprefix(list(words)) if words else ""  # noqa: RUF071 (characters wanted)


class PromptArea(TextArea):
    """The text field itself; the `Composer` around it handles what the keys mean."""

    def __init__(self) -> None:
        super().__init__(
            "", id="prompt", soft_wrap=True, show_line_numbers=False, placeholder=PLACEHOLDER
        )
        self.composer: Composer | None = None

    async def _on_key(self, event: events.Key) -> None:
        if self.composer is not None and self.composer.composer_key(event):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        if self.composer is not None and self.composer.fold_paste(event.text):
            event.stop()
            event.prevent_default()
            return
        await super()._on_paste(event)

    def action_cursor_up(self, select: bool = False) -> None:
        composer = self.composer
        if not select and self.cursor_location[0] == 0 and composer and composer.history_step(-1):
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        last = self.document.line_count - 1
        composer = self.composer
        if not select and self.cursor_location[0] == last and composer and composer.history_step(1):
            return
        super().action_cursor_down(select)


class Composer(Vertical):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, cwd: Path, commands: Sequence[tuple[str, str]]) -> None:
        super().__init__(id="composer")
        self.cwd = cwd
        self.commands = list(commands)
        self.history: list[str] = []
        self._history_at = 0
        self._draft = ""
        self.pastes: dict[int, str] = {}
        self.area = PromptArea()
        self.area.composer = self
        self.suggestions = Static("", id="completions")

    def compose(self) -> ComposeResult:
        yield self.suggestions
        yield self.area

    def on_mount(self) -> None:
        self.suggestions.display = False

    @property
    def text(self) -> str:
        return self.area.text

    def set_text(self, text: str) -> None:
        self.area.text = text
        self.area.move_cursor(self.area.document.end)

    # -- keys -----------------------------------------------------------------------------

    def composer_key(self, event: events.Key) -> bool:
        """True when the key was a composer command (send, new line, complete)."""
        if event.key == "enter":
            if self.text.endswith("\\"):
                self.set_text(self.text[:-1] + "\n")
                return True
            self.submit()
            return True
        if event.key in ("ctrl+j", "alt+enter", "shift+enter"):
            self.area.insert("\n")
            return True
        if event.key == "tab":
            self.complete()
            return True
        return False

    def submit(self) -> None:
        raw = self.text
        if not raw.strip():
            return
        text = self.expand_pastes(raw).strip()
        if not self.history or self.history[-1] != raw:
            self.history.append(raw)
        self._history_at = len(self.history)
        self.pastes = {}
        self.set_text("")
        self.post_message(self.Submitted(text))

    def history_step(self, step: int) -> bool:
        if not self.history:
            return False
        if self._history_at == len(self.history):
            self._draft = self.text
        at = self._history_at + step
        if at < 0 or at > len(self.history):
            return False
        self._history_at = at
        self.set_text(self._draft if at == len(self.history) else self.history[at])
        return True

    # -- pastes ---------------------------------------------------------------------------

    def fold_paste(self, text: str) -> bool:
        lines = text.count("\n") + 1
        if len(text) <= PASTE_FOLD_CHARS and lines <= PASTE_FOLD_LINES:
            return False
        number = len(self.pastes) + 1
        self.pastes[number] = text
        self.area.insert(f"[pasted {lines} lines #{number}]")
        return True

    def expand_pastes(self, text: str) -> str:
        def whole(match: re.Match[str]) -> str:
            return self.pastes.get(int(match.group(2)), match.group(0))

        return _PASTE_MARK.sub(whole, text)

    # -- completion -----------------------------------------------------------------------

    def candidates(self) -> tuple[str, list[str]]:
        """(the word being completed, its completions)."""
        text = self.text
        if text.startswith("/") and " " not in text and "\n" not in text:
            return text, [f"/{name}" for name, _ in self.commands if f"/{name}".startswith(text)]
        word = re.split(r"\s", text)[-1] if text else ""
        if word.startswith("@"):
            return word, ["@" + path for path in path_candidates(self.cwd, word[1:])]
        return word, []

    def complete(self) -> None:
        word, found = self.candidates()
        if not found:
            return
        completion = found[0] if len(found) == 1 else common_prefix(found)
        if len(found) == 1 and not completion.endswith("/"):
            completion += " "
        if len(completion) > len(word):
            self.set_text(self.text[: len(self.text) - len(word)] + completion)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        word, found = self.candidates()
        if not found or (len(found) == 1 and found[0] == word):
            self.suggestions.display = False
            return
        helps = dict((f"/{name}", help_) for name, help_ in self.commands)
        lines = [f"{c}  {helps.get(c, '')}".rstrip() for c in found[:_MAX_SUGGESTIONS]]
        if len(found) > _MAX_SUGGESTIONS:
            lines.append(f"… {len(found) - _MAX_SUGGESTIONS} more (tab completes)")
        self.suggestions.update("\n".join(lines))
        self.suggestions.display = True
