"""`lever.safe_json`: the depth and size limits, and that within them it is `json.loads`."""

from __future__ import annotations

import json
import sys

import pytest

from lever import safe_json
from lever.safe_json import JSONLimitError


def test_within_the_limits_it_is_json_loads() -> None:
    text = '{"a": [1, {"b": "[[[[\\"{{"}], "c": null, "d": "\\\\"}'
    assert safe_json.loads(text) == json.loads(text)
    assert safe_json.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deep_nesting_is_refused_without_recursing(depth: int) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth):
        with pytest.raises(JSONLimitError, match="nested deeper than 200 levels") as caught:
            safe_json.loads(text)
        assert isinstance(caught.value, json.JSONDecodeError | ValueError)
        assert caught.value.doc == ""  # the document is not kept alive by the error


def test_the_depth_limit_is_exact() -> None:
    assert safe_json.loads("[" * 200 + "]" * 200, max_depth=200)
    with pytest.raises(JSONLimitError):
        safe_json.loads("[" * 201 + "]" * 201, max_depth=200)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"patch": "[" * 10_000 + '"\\' + "{" * 10_000})
    assert safe_json.loads(text, max_depth=2) == json.loads(text)


def test_size_limit() -> None:
    with pytest.raises(JSONLimitError, match="over the 10-byte limit"):
        safe_json.loads('"' + "x" * 20 + '"', max_bytes=10)


def test_broken_json_is_still_a_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        safe_json.loads('{"a": ')
    assert not isinstance(caught.value, JSONLimitError)


def test_a_deep_stack_at_the_call_site_is_a_limit_error_too() -> None:
    def nested(n: int) -> object:
        return nested(n - 1) if n else safe_json.loads("[" * 150 + "]" * 150)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        with pytest.raises(JSONLimitError, match="too deeply"):
            nested(250)
    finally:
        sys.setrecursionlimit(limit)
