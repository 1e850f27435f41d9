import pytest

from envflags import parse_bool


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " Yes ", "on"])
def test_true(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "false", "False", "no", " OFF"])
def test_false(text):
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "maybe", "2"])
def test_invalid(text):
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool(text)
