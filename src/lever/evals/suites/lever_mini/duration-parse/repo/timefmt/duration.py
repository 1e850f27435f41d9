import re


def parse_duration(text: str) -> int:
    """Seconds in a duration like "1h30m"."""
    match = re.fullmatch(r"(\d+)h(\d+)?", text)
    if not match:
        raise ValueError(f"bad duration: {text!r}")
    hours, minutes = match.groups()
    return int(hours) * 3600 + int(minutes or 0)
