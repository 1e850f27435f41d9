import signal

from mathkit.primes import count_primes, is_prime

#: Generous: a sieve needs about 0.1 s here; trial division hours.
BUDGET_SECONDS = 8.0


def _too_slow(signum, frame):
    raise TimeoutError(f"count_primes took more than {BUDGET_SECONDS} s")


def test_small():
    assert [count_primes(n) for n in (0, 1, 2, 3, 10, 100)] == [0, 0, 0, 1, 4, 25]
    assert is_prime(97) and not is_prime(91)


def test_fast_enough():
    signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, BUDGET_SECONDS)
    try:
        assert count_primes(2_000_000) == 148933
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
