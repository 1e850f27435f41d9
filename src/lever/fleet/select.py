"""The best attempt of a task: passing, then the smallest diff (changed lines), then the fewest
tokens, then the lowest attempt number — so the choice is the same on every run of `show`."""

from __future__ import annotations

from collections.abc import Iterable

from lever.fleet.attempt import AttemptResult


def sort_key(result: AttemptResult) -> tuple[int, int, int]:
    return (result.lines, result.tokens, result.attempt)


def choose(results: Iterable[AttemptResult]) -> dict[str, int | None]:
    """Task id -> the chosen attempt number, None when no attempt of the task passed."""
    chosen: dict[str, int | None] = {}
    best: dict[str, AttemptResult] = {}
    for result in results:
        chosen.setdefault(result.task, None)
        if not result.passed:
            continue
        current = best.get(result.task)
        if current is None or sort_key(result) < sort_key(current):
            best[result.task] = result
            chosen[result.task] = result.attempt
    return chosen
