import signal

import pytest

from logtools.dedupe import unique_events

#: Generous: the fixed version needs about 0.05 s; the quadratic one minutes.
BUDGET_SECONDS = 5.0


def _too_slow(signum, frame):
    raise TimeoutError(f"unique_events took more than {BUDGET_SECONDS} s")


def test_results_unchanged():
    events = [{"id": i % 3, "n": i} for i in range(7)]
    assert unique_events(events) == [{"id": 0, "n": 0}, {"id": 1, "n": 1}, {"id": 2, "n": 2}]


def test_fast_enough():
    events = [{"id": (i * 7919) % 20000, "n": i} for i in range(200_000)]
    signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, BUDGET_SECONDS)
    try:
        result = unique_events(events)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert len(result) == 20000
    assert [e["n"] for e in result[:3]] == [0, 1, 2]
