import pytest

from webkit.pages import page_count, paginate


def test_first_and_last_page():
    items = list(range(10))
    assert paginate(items, 1, 4) == [0, 1, 2, 3]
    assert paginate(items, 3, 4) == [8, 9]
    assert paginate(items, 4, 4) == []


def test_page_zero_raises():
    with pytest.raises(ValueError):
        paginate([1], 0, 5)


def test_page_count():
    assert page_count(10, 5) == 2
    assert page_count(11, 5) == 3
    assert page_count(0, 5) == 0
