"""The apply_patch tool against real files: every operation, fuzzy matching, refusals, bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from lever.protocol import PatchApplied
from lever.testing.tree import snapshot
from lever.tools.apply_patch import ApplyPatchTool, make_add_patch, make_patch
from lever.tools.base import ToolContext, ToolResult


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


class Run:
    def __init__(self, root: Path, roots: tuple[Path, ...] = ()) -> None:
        self.events: list[BaseModel] = []
        self.ctx = ToolContext(
            cwd=root, call_id="call_1", writable_roots=roots, emit=self.events.append
        )

    async def __call__(self, patch: str) -> ToolResult:
        return await ApplyPatchTool().run({"input": patch}, self.ctx)


def patch(*body: str) -> str:
    """The envelope around `body`: hunk lines as arguments, or one multi-line string."""
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


APP = """\
import os


def handler(request):
    value = request.get("x")
    return value


def other():
    value = 2
    return value
"""


async def test_add_update_delete_summary_and_event(ws: Path) -> None:
    (ws / "app.py").write_text(APP)
    (ws / "old.txt").write_text("bye\n")
    run = Run(ws)
    result = await run(
        patch(
            """\
*** Update File: app.py
@@ def handler(request):
     value = request.get("x")
-    return value
+    return value or 0
*** Add File: pkg/new.py
+line one
+
+line three
*** Delete File: old.txt"""
        )
    )
    assert not result.is_error, result.output
    assert result.output == (
        "Success. Updated the following files:\nM app.py\nA pkg/new.py\nD old.txt"
    )
    assert (ws / "app.py").read_text() == APP.replace(
        "    return value\n\n\ndef other", "    return value or 0\n\n\ndef other"
    )
    assert (ws / "pkg/new.py").read_bytes() == b"line one\n\nline three\n"
    assert not (ws / "old.txt").exists()
    [event] = run.events
    assert isinstance(event, PatchApplied)
    assert event.call_id == "call_1"
    assert event.files == ["app.py", "pkg/new.py", "old.txt"]
    assert "--- a/app.py\n+++ b/app.py\n" in event.diff
    assert "-    return value\n+    return value or 0\n" in event.diff
    assert "--- /dev/null\n+++ b/pkg/new.py\n" in event.diff
    assert "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n" in event.diff


async def test_several_chunks_and_nested_headers(ws: Path) -> None:
    src = (
        "class A:\n    def run(self):\n        return 1\n\n"
        "class B:\n    def run(self):\n        return 1\n\n"
        "def tail():\n    return 1\n"
    )
    (ws / "m.py").write_text(src)
    result = await Run(ws)(
        patch(
            """\
*** Update File: m.py
@@ class B:
@@     def run(self):
-        return 1
+        return 2
@@ def tail():
-    return 1
+    return 3"""
        )
    )
    assert not result.is_error, result.output
    assert (ws / "m.py").read_text() == (
        "class A:\n    def run(self):\n        return 1\n\n"
        "class B:\n    def run(self):\n        return 2\n\n"
        "def tail():\n    return 3\n"
    )


async def test_pure_insertion_after_header_and_header_repeated_as_context(ws: Path) -> None:
    (ws / "f.py").write_text("def f():\n    pass\n\ndef g():\n    pass\n")
    result = await Run(ws)(
        patch(
            "*** Update File: f.py",
            "@@ def f():",
            '+    """Doc."""',
            "@@ def g():",
            " def g():",
            "-    pass",
            "+    return 1",
        )
    )
    assert not result.is_error, result.output
    assert (ws / "f.py").read_text() == (
        'def f():\n    """Doc."""\n    pass\n\ndef g():\n    return 1\n'
    )


async def test_end_of_file_anchor_picks_the_last_occurrence(ws: Path) -> None:
    (ws / "f.txt").write_text("x\nend\nmiddle\nx\nend\n")
    result = await Run(ws)(
        patch("*** Update File: f.txt", "@@", " x", "-end", "+END", "*** End of File")
    )
    assert not result.is_error, result.output
    assert (ws / "f.txt").read_text() == "x\nend\nmiddle\nx\nEND\n"


async def test_move_and_move_with_edit(ws: Path) -> None:
    (ws / "a.txt").write_text("alpha\n")
    (ws / "b.txt").write_text("one\ntwo\n")
    os.chmod(ws / "b.txt", 0o751)
    result = await Run(ws)(
        patch(
            """\
*** Update File: a.txt
*** Move to: moved/a.txt
*** Update File: b.txt
*** Move to: c.txt
@@
 one
-two
+2"""
        )
    )
    assert not result.is_error, result.output
    assert result.output.endswith("R a.txt -> moved/a.txt\nR b.txt -> c.txt")
    assert snapshot(ws) == {"c.txt": b"one\n2\n", "moved": "dir", "moved/a.txt": b"alpha\n"}
    assert (ws / "c.txt").stat().st_mode & 0o777 == 0o751


async def test_move_onto_existing_file_is_refused(ws: Path) -> None:
    (ws / "a.txt").write_text("a\n")
    (ws / "b.txt").write_text("b\n")
    result = await Run(ws)(patch("*** Update File: a.txt", "*** Move to: b.txt"))
    assert result.is_error
    assert "b.txt: the destination already exists" in result.output
    assert snapshot(ws) == {"a.txt": b"a\n", "b.txt": b"b\n"}


async def test_add_then_update_same_file_in_one_patch(ws: Path) -> None:
    result = await Run(ws)(
        patch("*** Add File: n.txt", "+1", "+2", "*** Update File: n.txt", "@@", "-2", "+two")
    )
    assert not result.is_error, result.output
    assert (ws / "n.txt").read_bytes() == b"1\ntwo\n"


async def test_trailing_whitespace_drift_keeps_file_context(ws: Path) -> None:
    (ws / "t.py").write_text("a = 1   \nb = 2\t\nc = 3\n")
    result = await Run(ws)(patch("*** Update File: t.py", "@@", " a = 1", "-b = 2", "+b = 20"))
    assert not result.is_error, result.output
    # The context line keeps its trailing spaces: only the changed line is rewritten.
    assert (ws / "t.py").read_bytes() == b"a = 1   \nb = 20\nc = 3\n"
    assert "trailing whitespace" in result.output


async def test_indentation_drift_reindents_added_lines(ws: Path) -> None:
    (ws / "i.py").write_text("class C:\n    def f(self):\n        x = 1\n        return x\n")
    result = await Run(ws)(
        patch(
            """\
*** Update File: i.py
@@
 def f(self):
     x = 1
-    return x
+    if x:
+        return x
+    return 0"""
        )
    )
    assert not result.is_error, result.output
    assert (ws / "i.py").read_text() == (
        "class C:\n    def f(self):\n        x = 1\n"
        "        if x:\n            return x\n        return 0\n"
    )
    assert "ignoring indentation" in result.output


async def test_tabs_in_file_spaces_in_patch(ws: Path) -> None:
    (ws / "g.go").write_text("func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n")
    result = await Run(ws)(
        patch(
            "*** Update File: g.go",
            "@@ func f() {",
            "     if x {",
            "-        return 1",
            "+        log()",
            "+        return 2",
            "     }",
        )
    )
    assert not result.is_error, result.output
    assert (ws / "g.go").read_text() == "func f() {\n\tif x {\n\t\tlog()\n\t\treturn 2\n\t}\n}\n"


async def test_unicode_punctuation_normalised(ws: Path) -> None:
    (ws / "u.md").write_text("Title \u2014 \u201cquoted\u201d\u00a0text\nnext\n")
    result = await Run(ws)(
        patch("*** Update File: u.md", "@@", '-Title - "quoted" text', "+Title", " next")
    )
    assert not result.is_error, result.output
    assert (ws / "u.md").read_text() == "Title\nnext\n"


async def test_failed_hunk_changes_nothing_and_explains(ws: Path) -> None:
    (ws / "app.py").write_text(APP)
    (ws / "first.txt").write_text("keep me\n")
    (ws / "gone.txt").write_text("still here\n")
    before = snapshot(ws)
    run = Run(ws)
    result = await run(
        patch(
            """\
*** Update File: first.txt
@@
-keep me
+changed
*** Add File: created.txt
+x
*** Delete File: gone.txt
*** Update File: app.py
@@ def handler(request):
     value = request.get("x")
-    return value
+    return value or 0
@@ def other():
     value = 2
-    return valu
+    return value + 1"""
        )
    )
    assert result.is_error
    assert snapshot(ws) == before
    assert run.events == []
    out = result.output
    assert "app.py: hunk 2 (@@ def other():, patch line 14) did not apply." in out
    assert "Line 1 of the hunk matches file line 10, but its removed line 2 does not follow:" in out
    assert "  -    return valu\n" in out
    assert "File line 11 is:\n  11 |     return value" in out
    assert (
        "Closest lines in app.py (did you mean?):\n  10 |     value = 2\n  11 |     return value"
        in out
    )
    assert out.endswith("No files were changed.")


async def test_missing_first_line_and_missing_header(ws: Path) -> None:
    (ws / "app.py").write_text(APP)
    result = await Run(ws)(patch("*** Update File: app.py", "@@", "-import sys", "+import re"))
    assert result.is_error
    assert "hunk 1 (no @@ header, patch line 3) did not apply." in result.output
    assert "Its first removed line was not found:\n  -import sys" in result.output
    assert "  1 | import os" in result.output
    result = await Run(ws)(patch("*** Update File: app.py", "@@ def handlr(req):", "-x", "+y"))
    assert result.is_error
    assert "the @@ context line 'def handlr(req):' was not found" in result.output
    assert "did you mean?):\n  4 | def handler(request):" in result.output
    assert (ws / "app.py").read_text() == APP


async def test_hunks_out_of_order_are_explained(ws: Path) -> None:
    (ws / "o.txt").write_text("a\nb\nc\nd\n")
    result = await Run(ws)(patch("*** Update File: o.txt", "@@", "-c", "+C", "@@", "-a", "+A"))
    assert result.is_error
    assert "These lines do occur at line 1, before the previous hunk" in result.output
    assert (ws / "o.txt").read_text() == "a\nb\nc\nd\n"


@pytest.mark.parametrize(
    "body",
    [
        ("*** Add File: ../escape.txt", "+x"),
        ("*** Add File: sub/../../escape.txt", "+x"),
        ("*** Update File: inside.txt", "*** Move to: ../escape.txt"),
        ("*** Delete File: ../outside.txt",),
    ],
)
async def test_paths_outside_workspace_refuse_whole_patch(ws: Path, body: tuple[str, ...]) -> None:
    (ws / "inside.txt").write_text("in\n")
    (ws.parent / "outside.txt").write_text("out\n")
    before, outside = snapshot(ws), snapshot(ws.parent)
    result = await Run(ws)(patch("*** Add File: ok.txt", "+fine", *body))
    assert result.is_error
    assert "outside the workspace" in result.output and "refused" in result.output
    assert snapshot(ws) == before
    assert snapshot(ws.parent) == outside


async def test_absolute_paths_inside_ok_outside_refused(ws: Path, tmp_path: Path) -> None:
    target = ws / "abs.txt"
    result = await Run(ws)(patch(f"*** Add File: {target}", "+x"))
    assert not result.is_error, result.output
    assert target.read_text() == "x\n"
    elsewhere = tmp_path / "elsewhere.txt"
    result = await Run(ws)(patch(f"*** Add File: {elsewhere}", "+x"))
    assert result.is_error and not elsewhere.exists()


async def test_symlink_escape_is_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (ws / "link").symlink_to(outside, target_is_directory=True)
    (ws / "filelink").symlink_to(outside / "secret.txt")
    for body in [
        ("*** Update File: link/secret.txt", "@@", "-secret", "+pwned"),
        ("*** Add File: link/new.txt", "+x"),
        ("*** Update File: filelink", "@@", "-secret", "+pwned"),
        ("*** Delete File: filelink",),
    ]:
        result = await Run(ws)(patch(*body))
        assert result.is_error and "outside the workspace" in result.output, body
    assert snapshot(outside) == {"secret.txt": b"secret\n"}
    assert (ws / "filelink").is_symlink()


async def test_extra_writable_root(ws: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    result = await Run(ws, roots=(ws, extra))(patch(f"*** Add File: {extra}/e.txt", "+e"))
    assert not result.is_error, result.output
    assert (extra / "e.txt").read_text() == "e\n"
    assert result.output.endswith(f"A {extra}/e.txt")


async def test_git_directory_is_read_only(ws: Path) -> None:
    (ws / ".git").mkdir()
    result = await Run(ws)(patch("*** Add File: .git/hooks/pre-commit", "+evil"))
    assert result.is_error and ".git and .lever are read-only" in result.output
    assert snapshot(ws) == {".git": "dir"}


async def test_deleting_a_symlink_removes_the_link_only(ws: Path) -> None:
    (ws / "real.txt").write_text("real\n")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    result = await Run(ws)(patch("*** Delete File: alias.txt"))
    assert not result.is_error, result.output
    assert snapshot(ws) == {"real.txt": b"real\n"}


async def test_add_existing_update_missing_delete_missing(ws: Path) -> None:
    (ws / "there.txt").write_text("here\n")
    cases = {
        "Add File: there.txt: the file already exists": ("*** Add File: there.txt", "+x"),
        "Update File: nope.txt: the file does not exist": (
            "*** Update File: nope.txt",
            "@@",
            "-a",
            "+b",
        ),
        "Delete File: nope.txt: the file does not exist": ("*** Delete File: nope.txt",),
    }
    for expected, body in cases.items():
        result = await Run(ws)(patch("*** Add File: new.txt", "+n", *body))
        assert result.is_error and expected in result.output
        assert snapshot(ws) == {"there.txt": b"here\n"}


async def test_crlf_file_keeps_crlf(ws: Path) -> None:
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    result = await Run(ws)(
        patch("*** Update File: w.txt", "@@", " one", "-two", "+2", "+2.5", " three")
    )
    assert not result.is_error, result.output
    assert (ws / "w.txt").read_bytes() == b"one\r\n2\r\n2.5\r\nthree\r\n"


async def test_no_trailing_newline_is_preserved(ws: Path) -> None:
    (ws / "n.txt").write_bytes(b"a\nb")
    (ws / "y.txt").write_bytes(b"a\nb\n")
    result = await Run(ws)(
        patch(
            """\
*** Update File: n.txt
@@
 a
-b
+c
*** Update File: y.txt
@@
 a
-b
+c"""
        )
    )
    assert not result.is_error, result.output
    assert (ws / "n.txt").read_bytes() == b"a\nc"
    assert (ws / "y.txt").read_bytes() == b"a\nc\n"


async def test_no_newline_marker_changes_final_newline(ws: Path) -> None:
    (ws / "n.txt").write_bytes(b"a\nb\n")
    result = await Run(ws)(
        patch(
            "*** Update File: n.txt",
            "@@",
            "-b",
            "+b",
            "\\ No newline at end of file",
            "*** End of File",
        )
    )
    assert not result.is_error, result.output
    assert (ws / "n.txt").read_bytes() == b"a\nb"


async def test_heredoc_wrapper_and_blank_context(ws: Path) -> None:
    (ws / "h.py").write_text("a = 1\n\nb = 2\n")
    text = (
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: h.py\n a = 1\n\n-b = 2\n"
        "+b = 3\n*** End Patch\nEOF\n"
    )
    result = await Run(ws)(text)
    assert not result.is_error, result.output
    assert (ws / "h.py").read_text() == "a = 1\n\nb = 3\n"


async def test_parse_error_is_reported_with_line(ws: Path) -> None:
    result = await Run(ws)("*** Begin Patch\n*** Update File: x\n@@\nbogus\n*** End Patch")
    assert result.is_error
    assert result.output.startswith("Invalid patch: line 4: expected a hunk line")
    assert result.output.endswith("No files were changed.")


@pytest.mark.parametrize("args", [{}, {"input": 3}, {"input": None}, {"patch": "x"}])
async def test_bad_arguments(ws: Path, args: dict[str, object]) -> None:
    result = await ApplyPatchTool().run(args, ToolContext(cwd=ws))
    assert result.is_error and "apply_patch needs `input`" in result.output


def test_schema() -> None:
    schema = ApplyPatchTool.schema
    assert schema.name == "apply_patch"
    assert schema.parameters["required"] == ["input"]
    assert "*** Begin Patch" in schema.description and "*** Update File:" in schema.description


async def test_make_patch_and_make_add_patch_apply(ws: Path) -> None:
    old = "def add(a, b):\n    return a - b\n"
    new = 'def add(a, b):\n    """Sum."""\n    return a + b\n'
    (ws / "m.py").write_text(old)
    assert not (await Run(ws)(make_patch("m.py", old, new))).is_error
    assert (ws / "m.py").read_text() == new
    assert not (await Run(ws)(make_add_patch("z.txt", "no newline"))).is_error
    assert (ws / "z.txt").read_bytes() == b"no newline"
    with pytest.raises(ValueError):
        make_patch("m.py", new, new)


async def test_links_that_stay_inside_the_workspace_are_followed(ws: Path) -> None:
    """A repository's own symlinks (docs -> site/docs) work: resolved beneath the workspace, then
    written through a walk that follows nothing (tests/security/test_race_*.py)."""
    (ws / "site" / "docs").mkdir(parents=True)
    (ws / "site" / "docs" / "a.md").write_text("old\n")
    (ws / "docs").symlink_to("site/docs")
    result = await Run(ws)(
        patch("*** Update File: docs/a.md", "@@", "-old", "+new", "*** Add File: docs/b.md", "+b")
    )
    assert not result.is_error, result.output
    assert result.output.endswith("M site/docs/a.md\nA site/docs/b.md")
    assert (ws / "site" / "docs" / "a.md").read_text() == "new\n"
    assert (ws / "site" / "docs" / "b.md").read_text() == "b\n"
    assert (ws / "docs").is_symlink()


async def test_added_files_get_the_usual_permissions(ws: Path) -> None:
    (ws / "run.sh").write_text("echo 1\n")
    (ws / "run.sh").chmod(0o755)
    umask = os.umask(0o022)
    os.umask(umask)
    result = await Run(ws)(
        patch("*** Add File: n.txt", "+n", "*** Update File: run.sh", "@@", "-echo 1", "+echo 2")
    )
    assert not result.is_error, result.output
    assert (ws / "n.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (ws / "run.sh").stat().st_mode & 0o777 == 0o755  # an updated file keeps its mode


async def test_the_small_models_example_is_a_patch_that_applies(ws: Path) -> None:
    """`--provider local` shows one example with PATH for the file: it must be exactly the
    format (a small model copies it), and hold no other path or `- note` line to copy."""
    tool = ApplyPatchTool()
    tool.offer_small()
    text = tool.schema.description
    example = text[text.index("*** Begin Patch") : text.index("*** End Patch") + 13]
    lines = [line[1:] for line in example.splitlines() if line[:1] in (" ", "-")]
    (ws / "notes.txt").write_text("\n".join(lines) + "\n")
    result = await Run(ws)(example.replace("PATH", "notes.txt"))
    assert not result.is_error, result.output
    assert "the line that replaces it" in (ws / "notes.txt").read_text()
    for copied in ("src/app.py", "old.txt", "\n- "):
        assert copied not in text
