"""Small statistics helpers for the lever demo project."""


def mean(values: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    """The middle value of a non-empty list (the mean of the two middle values if even)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle]
