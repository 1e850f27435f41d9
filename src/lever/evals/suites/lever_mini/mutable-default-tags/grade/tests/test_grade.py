from notes.model import Note, merge_tags


def test_notes_independent():
    a, b = Note("a"), Note("b")
    a.add_tag("work")
    assert a.tags == ["work"]
    assert b.tags == []
    b.add_tag("home")
    assert b.tags == ["home"]
    assert a.tags == ["work"]


def test_merge_tags_fresh_each_call():
    assert merge_tags(["x"], ["y", "x"]) == ["x", "y"]
    assert merge_tags([], ["z"]) == ["z"]


def test_given_list_not_aliased():
    tags = ["t"]
    note = Note("n", tags)
    note.add_tag("u")
    assert tags == ["t"]
