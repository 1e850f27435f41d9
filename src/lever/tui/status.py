"""The status line: model, sandbox, approval policy, context used, tokens, cost, elapsed time."""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.widgets import Static

from lever.humanize import short_tokens


@dataclass
class StatusInfo:
    model: str = "no model"
    sandbox: str = "-"
    approval: str = "-"
    input_tokens: int = 0
    output_tokens: int = 0
    context_percent: float = 0.0
    started: float = 0.0
    busy: bool = False
    queued: int = 0


def elapsed(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def status_text(info: StatusInfo, now: float, width: int) -> str:
    tokens = short_tokens(info.input_tokens + info.output_tokens)
    since = elapsed(now - info.started) if info.started else "0:00"
    state = "working… esc to interrupt" if info.busy else "ready"
    if info.queued:
        state += f" · {info.queued} queued"
    parts = [
        info.model,
        f"sandbox {info.sandbox}",
        f"approval {info.approval}",
        f"ctx {info.context_percent:.0f}%",
        f"{tokens} tok",
        "cost n/a",
        since,
        state,
    ]
    text = " · ".join(parts)
    if len(text) > width and width > 0:
        # Narrow terminal: drop the labels, then tighten the separators.
        parts[1], parts[2] = info.sandbox, info.approval
        parts[-1] = parts[-1].replace("working… esc to interrupt", "working (esc)")
        text = " · ".join(parts)
        if len(text) > width:
            text = "·".join(parts)
    return text


class StatusLine(Static):
    def __init__(self) -> None:
        super().__init__("", id="status")
        self.info = StatusInfo()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh_text)
        self.refresh_text()

    def observe(self, event: object) -> None:
        # Imported here: the protocol (pydantic) loads after the first frame, with the session.
        from lever.protocol import SessionStarted, TokenUsage

        if isinstance(event, SessionStarted):
            self.info.model = event.model
            self.info.sandbox = event.sandbox
            self.info.approval = event.approval
            self.info.started = self.info.started or time.time()
        elif isinstance(event, TokenUsage):
            self.info.input_tokens += event.input_tokens
            self.info.output_tokens += event.output_tokens

    def reset(self) -> None:
        self.info = StatusInfo()

    def refresh_text(self) -> None:
        width = self.size.width - 2  # the padding
        self.update(status_text(self.info, time.time(), width))
