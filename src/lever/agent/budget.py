"""The context budget: how full the model's window is, and when to compact.

Tokens come from the usage the API reports; between reports (and before the first one) they are
estimated from the request's bytes with a bytes-per-token ratio calibrated on every report.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Context windows of common model families, matched by prefix of the lower-cased model name.
DEFAULT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5", 400_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("gemini", 1_048_576),
    ("deepseek", 128_000),
    ("qwen2.5-coder", 32_768),
    ("qwen3", 262_144),
    ("llama", 131_072),
)
FALLBACK_WINDOW = 128_000


def context_window_for(model: str, configured: int | None = None) -> int:
    if configured:
        return configured
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, window in DEFAULT_WINDOWS:
        if name.startswith(prefix):
            return window
    return FALLBACK_WINDOW


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

    def __post_init__(self) -> None:
        if not self.output_reserve:
            self.output_reserve = min(16_384, self.context_window // 8)

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
