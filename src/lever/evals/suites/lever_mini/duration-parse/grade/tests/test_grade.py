import pytest

from timefmt.duration import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("2h", 7200), ("45m", 2700), ("90s", 90), ("1h30m", 5400), ("1h2m3s", 3723), ("0m", 0),
])
def test_valid(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "3m2h", "h", "1h 2m"])
def test_invalid(text):
    with pytest.raises(ValueError):
        parse_duration(text)
