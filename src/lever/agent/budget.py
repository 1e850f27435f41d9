"""The context budget: how full the model's window is, and when to compact.

Tokens come from the usage the API reports; between reports (and before the first one) they are
estimated from the request's bytes with a bytes-per-token ratio calibrated on every report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lever.agent.context_windows import window_for


def context_window_for(model: str, configured: int | None = None) -> int:
    """The configured window, else the table's (`lever.agent.context_windows`) for the model."""
    if configured:
        return configured
    return window_for(model).input_tokens


@dataclass
class TokenBudget:
    context_window: int
    #: Auto-compact when the request would pass this fraction of the effective window.
    threshold: float = 0.85
    #: Kept free for the model's answer (and the summary call's own output).
    output_reserve: int = 0
    bytes_per_token: float = 4.0
    #: After a compaction at least this fraction of the effective window must be free.
    min_free_after_compaction: float = 0.4

    #: The provider's real limit, once a context-length error has taught it (see `learn`).
    learned_window: int | None = None
    _auto_reserve: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self.output_reserve:
            self._auto_reserve = True
            self.output_reserve = _default_reserve(self.context_window)

    def learn(self, window: int) -> None:
        """Use `window` from now on (the provider said so, or a failed request showed it)."""
        self.context_window = self.learned_window = max(1, window)
        if self._auto_reserve:
            self.output_reserve = _default_reserve(window)
        else:
            self.output_reserve = min(self.output_reserve, window // 4)

    @property
    def effective_window(self) -> int:
        return self.context_window - self.output_reserve

    @property
    def compact_at(self) -> int:
        return int(self.effective_window * self.threshold)

    def estimate(self, request_bytes: int) -> int:
        return int(request_bytes / self.bytes_per_token) + 1

    def observe(self, request_bytes: int, input_tokens: int) -> None:
        """Calibrate the ratio from a reported usage (smoothed: one odd report can't swing it)."""
        if input_tokens > 0 and request_bytes > 0:
            measured = request_bytes / input_tokens
            self.bytes_per_token = 0.5 * self.bytes_per_token + 0.5 * measured

    def should_compact(self, tokens: int) -> bool:
        return tokens >= self.compact_at

    def fits_after_compaction(self, tokens: int) -> bool:
        return tokens <= self.effective_window * (1 - self.min_free_after_compaction)

    def percent_used(self, tokens: int) -> float:
        return 100.0 * tokens / self.context_window


def _default_reserve(window: int) -> int:
    return min(16_384, window // 8)
