"""The apply_patch envelope parser: structure, the leniency models need, and precise errors."""

from __future__ import annotations

import pytest

from lever.tools.patch_parser import (
    AddFile,
    Chunk,
    DeleteFile,
    Patch,
    PatchParseError,
    UpdateFile,
    parse_patch,
    render_patch,
)

FULL = """\
*** Begin Patch
*** Add File: path/to/new.py
+line one
+line two
*** Update File: src/app.py
*** Move to: src/renamed.py
@@ class Handler:
@@     def handle(self):
         context
-        removed
+        added
         more context
@@
 tail
+appended
*** End of File
*** Delete File: old.txt
*** End Patch
"""


def test_parses_every_operation() -> None:
    patch = parse_patch(FULL)
    assert patch == Patch(
        (
            AddFile("path/to/new.py", ("line one", "line two")),
            UpdateFile(
                "src/app.py",
                "src/renamed.py",
                (
                    Chunk(
                        ("class Handler:", "def handle(self):"),
                        (
                            (" ", "        context"),
                            ("-", "        removed"),
                            ("+", "        added"),
                            (" ", "        more context"),
                        ),
                    ),
                    Chunk((), ((" ", "tail"), ("+", "appended")), end_of_file=True),
                ),
            ),
            DeleteFile("old.txt"),
        )
    )
    add = patch.hunks[0]
    assert isinstance(add, AddFile) and add.contents == "line one\nline two\n"
    update = patch.hunks[1]
    assert isinstance(update, UpdateFile)
    assert update.chunks[0].old_lines == [
        "        context",
        "        removed",
        "        more context",
    ]
    assert update.chunks[0].new_lines == [
        "        context",
        "        added",
        "        more context",
    ]
    # Line numbers are kept for messages.
    assert [h.line for h in patch.hunks] == [2, 5, 17]
    assert [c.line for c in update.chunks] == [7, 13]


def test_render_is_canonical_and_round_trips() -> None:
    patch = parse_patch(FULL)
    text = render_patch(patch)
    assert parse_patch(text) == patch
    assert render_patch(parse_patch(text)) == text


def test_whitespace_around_envelope_and_markers() -> None:
    text = "\n\n   *** Begin Patch  \n*** Delete File:   a.txt  \n*** End Patch   \n\n  "
    assert parse_patch(text) == Patch((DeleteFile("a.txt"),))


@pytest.mark.parametrize(
    "opener", ["apply_patch <<'EOF'", "apply_patch <<EOF", 'apply_patch <<"EOF"', "<<'EOF'"]
)
def test_heredoc_wrapper(opener: str) -> None:
    text = f"{opener}\n*** Begin Patch\n*** Delete File: a.txt\n*** End Patch\nEOF\n"
    assert parse_patch(text) == Patch((DeleteFile("a.txt"),))


def test_crlf_patch_text() -> None:
    text = "*** Begin Patch\r\n*** Update File: a\r\n@@\r\n-x\r\n+y\r\n*** End Patch\r\n"
    assert parse_patch(text) == Patch(
        (UpdateFile("a", None, (Chunk((), (("-", "x"), ("+", "y"))),)),)
    )


def test_blank_context_line_without_space() -> None:
    text = "*** Begin Patch\n*** Update File: a\n@@\n x\n\n-y\n+z\n*** End Patch"
    chunk = Chunk((), ((" ", "x"), (" ", ""), ("-", "y"), ("+", "z")))
    assert parse_patch(text) == Patch((UpdateFile("a", None, (chunk,)),))


def test_blank_lines_between_hunks_are_not_context() -> None:
    text = (
        "*** Begin Patch\n*** Update File: a\n\n@@\n-x\n+y\n\n\n@@ h\n-p\n+q\n\n"
        "*** Delete File: b\n\n*** End Patch"
    )
    patch = parse_patch(text)
    update = patch.hunks[0]
    assert isinstance(update, UpdateFile)
    assert update.chunks == (
        Chunk((), (("-", "x"), ("+", "y"))),
        Chunk(("h",), (("-", "p"), ("+", "q"))),
    )
    assert patch.hunks[1] == DeleteFile("b")


def test_add_file_blank_line_inside_is_content() -> None:
    text = "*** Begin Patch\n*** Add File: a\n+one\n\n+three\n\n*** End Patch"
    assert parse_patch(text) == Patch((AddFile("a", ("one", "", "three")),))


def test_first_chunk_may_omit_at_at_and_unified_ranges_are_dropped() -> None:
    text = (
        "*** Begin Patch\n*** Update File: a\n x\n-y\n@@ -10,3 +10,4 @@ def f():\n+z\n*** End Patch"
    )
    update = parse_patch(text).hunks[0]
    assert isinstance(update, UpdateFile)
    assert update.chunks == (
        Chunk((), ((" ", "x"), ("-", "y"))),
        Chunk(("def f():",), (("+", "z"),)),
    )


def test_no_newline_markers() -> None:
    text = (
        "*** Begin Patch\n*** Update File: a\n@@\n-x\n\\ No newline at end of file\n+y\n"
        "*** Add File: b\n+q\n\\ No newline at end of file\n*** End Patch"
    )
    update, add = parse_patch(text).hunks
    assert isinstance(update, UpdateFile) and isinstance(add, AddFile)
    assert update.chunks[0].old_no_eol and not update.chunks[0].new_no_eol
    assert add.no_eol and add.contents == "q"


def test_move_only_update_is_allowed() -> None:
    text = "*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End Patch"
    assert parse_patch(text) == Patch((UpdateFile("a", "b", ()),))


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("", None, "empty"),
        ("*** Update File: a\n*** End Patch", 1, "'*** Begin Patch' as the first line"),
        ("*** Begin Patch\n*** Delete File: a\n", 2, "'*** End Patch' as the last line"),
        ("*** Begin Patch\n*** Frobnicate: a\n*** End Patch", 2, "expected a hunk header"),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n x\nnot a diff line\n*** End Patch",
            5,
            "expected a hunk line starting with ' ' (context), '-' (remove) or '+' (add)",
        ),
        ("*** Begin Patch\n*** Update File: a\n*** End Patch", 2, "has no changes"),
        ("*** Begin Patch\n*** Update File: a\n@@ f\n*** End Patch", 3, "has no lines"),
        ("*** Begin Patch\n*** Add File: a\n+x\ny\n*** End Patch", 4, "starting with '+'"),
        ("*** Begin Patch\n*** Add File:  \n*** End Patch", 2, "expected a file path"),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n-x\n*** End of File\n y\n*** End Patch",
            6,
            "expected '@@' to start the next hunk of a",
        ),
        (
            "\n\n*** Begin Patch\n*** Update File: a\n@@\n-x\n?\n*** End Patch",
            7,
            "got '?'",
        ),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int | None, expected: str) -> None:
    with pytest.raises(PatchParseError) as info:
        parse_patch(text)
    assert info.value.line == line
    assert expected in str(info.value)
    if line is not None:
        assert str(info.value).startswith(f"line {line}: ")


def test_indented_marker_inside_update_is_context() -> None:
    text = "*** Begin Patch\n*** Update File: a\n@@\n *** Delete File: x\n+y\n*** End Patch"
    update = parse_patch(text).hunks[0]
    assert isinstance(update, UpdateFile)
    assert update.chunks[0].lines == ((" ", "*** Delete File: x"), ("+", "y"))


def test_end_of_file_marker_after_an_added_file() -> None:
    """Qwen2.5-Coder-1.5B closed every added file with the marker the tool's description shows
    closing an update hunk (real-model eval runs); it ends the file's lines, nothing more."""
    text = (
        "*** Begin Patch\n*** Add File: calc.py\n+def add(a, b):\n+    return a + b\n"
        "*** End of File\n*** Delete File: old.txt\n*** End Patch"
    )
    patch = parse_patch(text)
    assert patch.hunks[0] == AddFile(
        "calc.py", ("def add(a, b):", "    return a + b"), False, line=2
    )
    assert isinstance(patch.hunks[1], DeleteFile)
    assert parse_patch(text.replace("*** End of File\n", "")).hunks == patch.hunks
