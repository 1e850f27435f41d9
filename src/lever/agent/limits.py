"""Limits of one task (a person's message and every step it takes): model requests, tokens and
wall time. Each task starts from zero, so a long session in the TUI or the app-server never runs
into the spending of its earlier tasks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Limits:
    max_turns: int | None = 200
    max_tokens: int | None = None
    max_seconds: float | None = None


@dataclass
class Usage:
    """What a task (or a whole session) has spent so far."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, input_tokens: int, output_tokens: int, cached_input_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cached_input_tokens += cached_input_tokens

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def seconds_left(self, limits: Limits) -> float | None:
        if limits.max_seconds is None:
            return None
        return max(0.0, limits.max_seconds - self.elapsed())

    def exceeded(self, limits: Limits) -> str | None:
        """A sentence naming the limit reached, or None."""
        if limits.max_turns is not None and self.requests >= limits.max_turns:
            return f"turn limit reached ({limits.max_turns} model requests)"
        if limits.max_tokens is not None and self.total_tokens >= limits.max_tokens:
            return f"token limit reached ({self.total_tokens} of {limits.max_tokens})"
        if limits.max_seconds is not None and self.elapsed() >= limits.max_seconds:
            return time_limit_message(self.elapsed(), limits.max_seconds)
        return None

    def deadline(self, limits: Limits) -> float | None:
        """The `time.monotonic()` at which the time limit is reached, if there is one."""
        return None if limits.max_seconds is None else self.started + limits.max_seconds


def time_limit_message(elapsed: float, max_seconds: float) -> str:
    return f"time limit reached ({elapsed:.0f} s of {max_seconds:.0f} s)"


def budget_text(task: Usage, limits: Limits, context_used: int, context_window: int) -> str:
    """What the model is told of its budget: context in use, and what this task has left."""
    share = 100 * context_used // max(1, context_window)
    lines = [f"context: about {context_used} of {context_window} tokens in use ({share}%)"]
    left: list[str] = []
    if limits.max_turns is not None:
        requests = max(0, limits.max_turns - task.requests)
        left.append(f"{requests} model request{'' if requests == 1 else 's'}")
    if limits.max_tokens is not None:
        left.append(f"{max(0, limits.max_tokens - task.total_tokens)} tokens")
    seconds = task.seconds_left(limits)
    if seconds is not None:
        left.append(f"{seconds:.0f} s of wall time")
    if left:
        lines.append("left for this task: " + ", ".join(left))
    return "\n".join(lines)


def mostly_spent(task: Usage, limits: Limits, share: float = 0.8) -> bool:
    """Whether the task has used `share` of any of its limits."""
    spent = []
    if limits.max_turns:
        spent.append(task.requests / limits.max_turns)
    if limits.max_tokens:
        spent.append(task.total_tokens / limits.max_tokens)
    if limits.max_seconds:
        spent.append(task.elapsed() / limits.max_seconds)
    return any(fraction >= share for fraction in spent)
