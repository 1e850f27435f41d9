"""Property tests: make_patch(old, new) applied to `old` gives exactly `new`; parse(render) = id."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lever.tools.apply_patch import apply_patch_text, make_add_patch, make_patch
from lever.tools.patch_apply import apply_chunks
from lever.tools.patch_parser import (
    AddFile,
    Chunk,
    DeleteFile,
    Hunk,
    Op,
    Patch,
    UpdateFile,
    parse_patch,
    render_patch,
)

# A small alphabet so lines repeat (hunks must still land in the right place), with lines that
# differ only in whitespace or punctuation (the fuzzy levels must not pick them over an exact
# match) and lines that look like patch syntax.
LINES = st.sampled_from(
    [
        "a",
        "b",
        "",
        "  a",
        "a  ",
        "\ta",
        "x \u2014 y",
        "x - y",
        "@@ a",
        "*** End of File",
        "*** End Patch",
        "\\ No newline at end of file",
        "+",
        "-",
        " ",
    ]
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(LINES, max_size=14))
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


def _apply_in_memory(old: str, text: str) -> str:
    [hunk] = parse_patch(text).hunks
    assert isinstance(hunk, UpdateFile) and hunk.path == "f.txt"
    return apply_chunks(old, hunk.chunks, "f.txt", [])


@settings(max_examples=600, deadline=None)
@given(texts(), texts())
def test_make_patch_applies_exactly(old: str, new: str) -> None:
    if old == new:
        return
    text = make_patch("f.txt", old, new)
    assert _apply_in_memory(old, text) == new
    assert render_patch(parse_patch(text)) == text


@settings(max_examples=200, deadline=None)
@given(texts(), texts(), st.integers(min_value=0, max_value=3))
def test_make_patch_any_context_size(old: str, new: str, context: int) -> None:
    if old != new:
        assert _apply_in_memory(old, make_patch("f.txt", old, new, context=context)) == new


@settings(max_examples=200, deadline=None)
@given(texts(), texts())
def test_make_patch_on_crlf_file_keeps_crlf(old: str, new: str) -> None:
    if old == new or "\n" not in old:
        return
    result = _apply_in_memory(old.replace("\n", "\r\n"), make_patch("f.txt", old, new))
    if new:
        # The last line of a file without final newline has no line end to convert.
        assert result == new.replace("\n", "\r\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), texts(), texts())
def test_on_disk_update_and_add(old: str, new: str, added: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f.txt").write_bytes(old.encode())
        if old != new:
            apply_patch_text(make_patch("f.txt", old, new), root, (root,))
        apply_patch_text(make_add_patch("sub/g.txt", added), root, (root,))
        assert (root / "f.txt").read_bytes() == new.encode()
        assert (root / "sub/g.txt").read_bytes() == added.encode()


# -- parse(render(patch)) == patch over arbitrary well-formed patches ------------------------

TEXT = st.text(alphabet="ab *+-@\\\t:/.\u2014", max_size=8)
PATH = st.from_regex(r"[a-z][a-z0-9_./-]{0,10}", fullmatch=True)
HEADER = TEXT.map(str.strip).filter(bool).filter(lambda h: not h.startswith("-"))
OPS: st.SearchStrategy[Op] = st.sampled_from([" ", "-", "+"])


@st.composite
def chunks(draw: st.DrawFn) -> Chunk:
    lines: list[tuple[Op, str]] = []
    for op, text in draw(st.lists(st.tuples(OPS, TEXT), min_size=1, max_size=6)):
        lines.append((op, text))
        if draw(st.integers(0, 5)) == 0:
            lines.append(("\\", ""))
    headers = draw(st.lists(HEADER, max_size=2))
    return Chunk(tuple(headers), tuple(lines), draw(st.booleans()))


@st.composite
def hunks(draw: st.DrawFn) -> Hunk:
    kind = draw(st.sampled_from(["add", "delete", "update"]))
    path = draw(PATH)
    if kind == "add":
        lines = tuple(draw(st.lists(TEXT, max_size=5)))
        return AddFile(path, lines, bool(lines) and draw(st.booleans()))
    if kind == "delete":
        return DeleteFile(path)
    move_to = draw(st.none() | PATH)
    body = tuple(draw(st.lists(chunks(), min_size=0 if move_to else 1, max_size=3)))
    return UpdateFile(path, move_to, body)


@settings(max_examples=400, deadline=None)
@given(st.lists(hunks(), max_size=5))
def test_parse_render_round_trip(items: list[Hunk]) -> None:
    patch = Patch(tuple(items))
    text = render_patch(patch)
    assert parse_patch(text) == patch
    # And the lenient wrappers do not change the meaning.
    assert parse_patch(f"apply_patch <<'EOF'\n{text}EOF\n") == patch
    assert parse_patch("  \n" + text.replace("\n", "\r\n") + "\n\n") == patch
