import signal

import pytest

from searching import find_index


class Counting(list):
    reads = 0

    def __getitem__(self, i):
        Counting.reads += 1
        return list.__getitem__(self, i)


@pytest.fixture(autouse=True)
def no_endless_loops():
    def stop(signum, frame):
        raise TimeoutError("find_index does not terminate")
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)


def test_ends():
    items = [1, 3, 5, 7]
    assert [find_index(items, x) for x in items] == [0, 1, 2, 3]
    assert find_index(items, 8) == -1
    assert find_index(items, 0) == -1
    assert find_index(items, 4) == -1
    assert find_index([], 1) == -1


def test_first_duplicate():
    assert find_index([1, 2, 2, 2, 3], 2) == 1


def test_logarithmic():
    items = Counting(range(100_000))
    Counting.reads = 0
    assert find_index(items, 99_999) == 99_999
    assert Counting.reads < 100
