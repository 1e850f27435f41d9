"""Limits of one run: model requests, tokens and wall time."""

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
    """What a session has spent so far."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def exceeded(self, limits: Limits) -> str | None:
        """A sentence naming the limit reached, or None."""
        if limits.max_turns is not None and self.requests >= limits.max_turns:
            return f"turn limit reached ({limits.max_turns} model requests)"
        if limits.max_tokens is not None and self.total_tokens >= limits.max_tokens:
            return f"token limit reached ({self.total_tokens} of {limits.max_tokens})"
        elapsed = time.monotonic() - self.started
        if limits.max_seconds is not None and elapsed >= limits.max_seconds:
            return f"time limit reached ({elapsed:.0f} s of {limits.max_seconds:.0f} s)"
        return None

    def deadline(self, limits: Limits) -> float | None:
        """The `time.monotonic()` at which the time limit is reached, if there is one."""
        return None if limits.max_seconds is None else self.started + limits.max_seconds
