from confmerge import deep_merge


def test_nested():
    base = {"db": {"host": "x", "port": 1}, "tags": [1], "name": "a"}
    override = {"db": {"port": 2}, "tags": [2]}
    assert deep_merge(base, override) == {"db": {"host": "x", "port": 2}, "tags": [2], "name": "a"}


def test_inputs_untouched():
    base = {"db": {"host": "x"}}
    override = {"db": {"host": "y", "extra": {"k": 1}}}
    merged = deep_merge(base, override)
    merged["db"]["extra"]["k"] = 99
    assert base == {"db": {"host": "x"}}
    assert override == {"db": {"host": "y", "extra": {"k": 1}}}
