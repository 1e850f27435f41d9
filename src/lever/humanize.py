"""Short human forms of numbers, shared by the front ends (sessions list, TUI status line)."""


def short_tokens(count: int) -> str:
    """1234 → "1.2k", 2_500_000 → "2.5M"."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"
