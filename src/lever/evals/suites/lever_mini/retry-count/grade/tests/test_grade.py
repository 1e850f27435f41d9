import pytest

from netutil.retry import retry


def flaky(failures, error=ConnectionError):
    calls = []

    def f():
        calls.append(1)
        if len(calls) <= failures:
            raise error("boom")
        return "ok"
    return f, calls


def test_succeeds_on_last_attempt():
    f, calls = flaky(2)
    assert retry(attempts=3)(f)() == "ok"
    assert len(calls) == 3


def test_gives_up_after_attempts():
    f, calls = flaky(5)
    with pytest.raises(ConnectionError):
        retry(attempts=3)(f)()
    assert len(calls) == 3


def test_other_errors_not_retried():
    f, calls = flaky(1, error=KeyError)
    with pytest.raises(KeyError):
        retry(attempts=3)(f)()
    assert len(calls) == 1
