import pytest

from numerals.roman import from_roman, to_roman


def test_subtractive():
    assert to_roman(4) == "IV"
    assert to_roman(9) == "IX"
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_range():
    for n in (0, 4000, -1):
        with pytest.raises(ValueError):
            to_roman(n)


def test_round_trip():
    assert all(from_roman(to_roman(n)) == n for n in range(1, 4000))


@pytest.mark.parametrize("text", ["IIII", "IC", "VV", "ABC", ""])
def test_malformed(text):
    with pytest.raises(ValueError):
        from_roman(text)
