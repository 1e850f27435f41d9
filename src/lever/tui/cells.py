"""Transcript cells: one widget per thing that happened, each built and updated from events.

The answer cell (Markdown) lives in `lever.tui.answer`: Markdown is the slowest import of the
app, and the session's first events (the banner) should not wait for it.
"""

from __future__ import annotations

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from lever.safe_text import TerminalFilter, terminal_safe
from lever.tools.describe import describe_call

#: Lines of live output a running command shows; the rollout keeps the whole output.
LIVE_TAIL_LINES = 8
#: Lines of a diff shown in a patch cell.
DIFF_LINES = 200
#: A person's message longer than this shows its first USER_LINES_SHOWN lines (a big paste, the
#: `/init` prompt); the rollout keeps it whole.
USER_LINES = 10
USER_LINES_SHOWN = 6


class UserCell(Static):
    """What the person sent."""

    def __init__(self, text: str) -> None:
        lines = text.splitlines()
        if len(lines) > USER_LINES:
            more = len(lines) - USER_LINES_SHOWN
            text = "\n".join([*lines[:USER_LINES_SHOWN], f"… {more} more lines"])
        super().__init__(Text("\u203a " + text), classes="cell user")


class ReasoningCell(Collapsible):
    """A reasoning summary, folded: the title says it is there, Enter unfolds it."""

    def __init__(self, text: str = "") -> None:
        text = terminal_safe(text)
        self._filter = TerminalFilter()
        self._body = Static(Text(text), classes="reasoning-body")
        self.text = text
        super().__init__(self._body, title="thinking…", collapsed=True, classes="cell reasoning")

    def add(self, delta: str) -> None:
        self.text += self._filter.feed(delta)
        self._body.update(Text(self.text))

    def done(self) -> None:
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        self.title = "thought: " + (first[:60] + ("…" if len(first) > 60 else ""))


def finished_status(
    exit_code: int | None, duration_ms: int, is_error: bool, pid: str | None
) -> str:
    if pid:
        return f"still running as {pid}"
    if exit_code is not None:
        mark = "✓" if exit_code == 0 else "✗"
        status = f"{mark} exit {exit_code}"
    else:
        status = "✗ error" if is_error else "✓ ok"
    return f"{status} · {duration_ms / 1000:.1f} s"


class CommandCell(Collapsible):
    """A command: live output while it runs, folded to its exit code and duration when done."""

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.label = describe_call(name, arguments)
        self.output = ""
        self._filter = TerminalFilter()
        self._body = Static("", classes="command-output")
        super().__init__(
            self._body, title=f"{self.label} · running…", collapsed=False, classes="cell command"
        )

    def add_output(self, chunk: str) -> None:
        self.output += self._filter.feed(chunk)
        tail = self.output.rstrip("\n").splitlines()[-LIVE_TAIL_LINES:]
        self._body.update(Text("\n".join(tail)))

    def finish(
        self,
        exit_code: int | None,
        duration_ms: int,
        full_output: str,
        is_error: bool,
        pid: str | None,
    ) -> None:
        self.output = full_output = terminal_safe(full_output)
        self._body.update(Text(full_output.rstrip("\n") or "(no output)"))
        self.title = f"{self.label} · {finished_status(exit_code, duration_ms, is_error, pid)}"
        self.collapsed = True
        if is_error or (exit_code not in (None, 0)):
            self.add_class("failed")


class PatchCell(Vertical):
    """Files a patch changed, with the diff highlighted."""

    def __init__(self, files: list[str], diff: str, title: str = "") -> None:
        super().__init__(classes="cell patch")
        self.files = [terminal_safe(name) for name in files]
        self.diff = terminal_safe(diff)
        self.heading = title or "patched " + ", ".join(files)

    def compose(self) -> ComposeResult:
        lines = self.diff.splitlines()
        shown = "\n".join(lines[:DIFF_LINES])
        if len(lines) > DIFF_LINES:
            shown += f"\n… {len(lines) - DIFF_LINES} more lines"
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        syntax = Syntax(shown, "diff", theme=theme, word_wrap=True, background_color="default")
        yield Static(Text(self.heading, style="bold"), classes="patch-title")
        yield Static(Group(syntax), classes="patch-diff")


class NoticeCell(Static):
    """Something lever says to the person (not the model): results of slash commands, hints."""

    def __init__(self, text: str, kind: str = "notice") -> None:
        text = terminal_safe(text)
        super().__init__(Text(text), classes=f"cell {kind}")
        self.text = text


class ErrorCell(NoticeCell):
    def __init__(self, text: str) -> None:
        super().__init__(text, kind="error")
