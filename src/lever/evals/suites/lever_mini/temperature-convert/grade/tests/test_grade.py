import pytest

from units.temperature import convert


def test_formulas():
    assert convert(100, "C", "F") == pytest.approx(212)
    assert convert(32, "F", "C") == pytest.approx(0)
    assert convert(0, "F", "C") == pytest.approx(-17.7778, abs=1e-3)
    assert convert(212, "F", "K") == pytest.approx(373.15)
    assert convert(0, "K", "F") == pytest.approx(-459.67)


def test_same_unit():
    assert convert(21.5, "C", "C") == pytest.approx(21.5)


def test_errors():
    with pytest.raises(ValueError):
        convert(1, "C", "X")
    with pytest.raises(ValueError):
        convert(-300, "C", "K")
