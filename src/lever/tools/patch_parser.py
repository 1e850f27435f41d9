"""Parse the `*** Begin Patch` envelope into typed hunks, and render hunks back to text.

Grammar (what current OpenAI coding models emit):

    patch   := "*** Begin Patch" hunk* "*** End Patch"
    hunk    := add | delete | update
    add     := "*** Add File: " path  ("+" line)*  no_eol?  "*** End of File"?
    delete  := "*** Delete File: " path
    update  := "*** Update File: " path  ("*** Move to: " path)?  chunk*
    chunk   := ("@@" | "@@ " header)*  (" " | "-" | "+" line  no_eol?)+  "*** End of File"?
    no_eol  := "\\ No newline at end of file"     (git's marker; applies to the line before it)

Leniency is limited to slips models commonly make and that cannot change the meaning: blank
lines and whitespace around the envelope, a shell heredoc wrapper (`apply_patch <<'EOF'`),
CRLF line ends, blank context lines missing their leading space, unified-diff ranges in `@@`
headers, `*** End of File` after an added file's lines. Everything else is an error naming the
line number and what was expected, so the model can fix its patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, cast

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARK = "*** End of File"
NO_EOL = "\\ No newline at end of file"

# Recognised without the space after the colon, so an empty path gets a precise error.
_HEADERS = (ADD.rstrip(), DELETE.rstrip(), UPDATE.rstrip())

Op = Literal[" ", "-", "+", "\\"]

# `apply_patch <<'EOF'`, `<<EOF`, `apply_patch <<"PATCH"`...: the line opening a heredoc.
_HEREDOC_OPEN = re.compile(r"""^(?:.*\s)?<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*$""")
# Models trained on unified diffs sometimes write `@@ -12,7 +12,8 @@ def f():`; the ranges mean
# nothing here (matching is by content) so they are dropped and the rest kept as the header.
_UNIFIED_RANGE = re.compile(r"^-\d+(?:,\d+)? \+\d+(?:,\d+)? @@\s?")


class PatchParseError(ValueError):
    """The patch text is not a valid envelope. `line` is 1-based in the text as given."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True)
class Chunk:
    """One `@@` section of an Update File: context/removed/added lines, in patch order.

    `lines` holds (op, text) pairs; op "\\" is the no-newline-at-end marker for the line before it.
    """

    headers: tuple[str, ...] = ()
    lines: tuple[tuple[Op, str], ...] = ()
    end_of_file: bool = False
    #: Line of the patch where the chunk starts (for messages; not part of equality).
    line: int = field(default=0, compare=False)

    @property
    def old_lines(self) -> list[str]:
        return [text for op, text in self.lines if op in " -"]

    @property
    def new_lines(self) -> list[str]:
        return [text for op, text in self.lines if op in " +"]

    def _marked(self, sides: str) -> bool:
        prev: str | None = None
        for op, _ in self.lines:
            if op == "\\" and prev is not None and prev in sides:
                return True
            prev = op
        return False

    @property
    def old_no_eol(self) -> bool:
        """The patch says the old text's last line had no newline."""
        return self._marked(" -")

    @property
    def new_no_eol(self) -> bool:
        """The patch says the new text's last line has no newline."""
        return self._marked(" +")


@dataclass(frozen=True)
class AddFile:
    path: str
    lines: tuple[str, ...] = ()
    no_eol: bool = False
    line: int = field(default=0, compare=False)

    @property
    def contents(self) -> str:
        if not self.lines:
            return ""
        return "\n".join(self.lines) + ("" if self.no_eol else "\n")


@dataclass(frozen=True)
class DeleteFile:
    path: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class UpdateFile:
    path: str
    move_to: str | None = None
    chunks: tuple[Chunk, ...] = ()
    line: int = field(default=0, compare=False)


Hunk = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True)
class Patch:
    hunks: tuple[Hunk, ...] = ()


def _is(line: str, marker: str) -> bool:
    # Markers are matched at column 0 with trailing whitespace forgiven; leading whitespace would
    # make the line a context line inside an update, so it is not forgiven there.
    return line.rstrip() == marker


def _strip_envelope(lines: list[str]) -> tuple[int, int]:
    """Return [start, end) of the lines strictly between Begin and End Patch."""
    nonblank = [i for i, text in enumerate(lines) if text.strip()]
    if not nonblank:
        raise PatchParseError("the patch is empty; expected '*** Begin Patch' as its first line")
    first, last = nonblank[0], nonblank[-1]
    heredoc = _HEREDOC_OPEN.match(lines[first].strip())
    if heredoc and len(nonblank) > 1:
        # Heredoc wrapper (`apply_patch <<'EOF' ... EOF`): drop the opener and the delimiter.
        first = nonblank[1]
        if lines[last].strip() == heredoc.group(2) and len(nonblank) > 2:
            last = nonblank[-2]
    if lines[first].strip() != BEGIN:
        raise PatchParseError(
            f"expected '{BEGIN}' as the first line, got {lines[first].strip()!r}", first + 1
        )
    if last == first or lines[last].strip() != END:
        raise PatchParseError(
            f"expected '{END}' as the last line, got {lines[last].strip()!r}", last + 1
        )
    return first + 1, last


def _path_of(line: str, marker: str, lineno: int) -> str:
    path = line.strip()[len(marker.rstrip()) :].strip()
    if not path:
        raise PatchParseError(f"expected a file path after '{marker.strip()}'", lineno)
    return path


def _is_hunk_header(line: str, *, strict: bool = False) -> bool:
    # Between hunks an indented header is forgiven; inside an update hunk a line starting with a
    # space is a context line, so there only column-0 headers count.
    text = line.rstrip() if strict else line.strip()
    return text.startswith(_HEADERS) or text == END


def parse_patch(text: str) -> Patch:
    """Parse patch text into hunks; raise PatchParseError naming the line on any error."""
    lines = [ln.removesuffix("\r") for ln in text.split("\n")]
    start, end = _strip_envelope(lines)
    hunks: list[Hunk] = []
    i = start
    while i < end:
        line = lines[i]
        lineno = i + 1
        stripped = line.strip()
        if not stripped:  # blank lines between hunks
            i += 1
        elif stripped.startswith(ADD.rstrip()):
            hunk, i = _parse_add(lines, i, end)
            hunks.append(hunk)
        elif stripped.startswith(DELETE.rstrip()):
            hunks.append(DeleteFile(_path_of(line, DELETE, lineno), line=lineno))
            i += 1
        elif stripped.startswith(UPDATE.rstrip()):
            upd, i = _parse_update(lines, i, end)
            hunks.append(upd)
        else:
            raise PatchParseError(
                f"expected a hunk header ('{ADD}<path>', '{UPDATE}<path>' or "
                f"'{DELETE}<path>'), got {line!r}",
                lineno,
            )
    return Patch(tuple(hunks))


def _parse_add(lines: list[str], i: int, end: int) -> tuple[AddFile, int]:
    lineno = i + 1
    path = _path_of(lines[i], ADD, lineno)
    body: list[str] = []
    no_eol = False
    i += 1
    while i < end:
        line = lines[i]
        if line.startswith("+") and not no_eol:
            body.append(line[1:])
        elif _is(line, NO_EOL) and body and not no_eol:
            no_eol = True
        elif not line.strip():
            # A blank line is content only if more `+` lines follow; otherwise it separates hunks.
            j = i
            while j < end and not lines[j].strip():
                j += 1
            if j < end and lines[j].startswith("+") and not no_eol:
                body.extend("" for _ in range(j - i))
                i = j
                continue
            break
        elif _is_hunk_header(line):
            break
        elif _is(line, EOF_MARK):
            # The tool's description shows this marker closing an update hunk; the 1.5B model
            # writes it after an added file's lines too, where it can only mean what it says.
            i += 1
            break
        else:
            raise PatchParseError(
                f"expected a line starting with '+' (content of the added file {path}) "
                f"or the next '*** ...' header, got {line!r}",
                i + 1,
            )
        i += 1
    return AddFile(path, tuple(body), no_eol, line=lineno), i


def _parse_update(lines: list[str], i: int, end: int) -> tuple[UpdateFile, int]:
    lineno = i + 1
    path = _path_of(lines[i], UPDATE, lineno)
    i += 1
    move_to: str | None = None
    if i < end and lines[i].strip().startswith(MOVE.rstrip()):
        move_to = _path_of(lines[i], MOVE, i + 1)
        i += 1
    chunks: list[Chunk] = []
    while i < end:
        line = lines[i]
        if _is_hunk_header(line, strict=True):
            break
        if not line.strip() and _only_blanks_until_next(lines, i, end):
            i += 1
            continue
        chunk, i = _parse_chunk(lines, i, end, first=not chunks, path=path)
        chunks.append(chunk)
    if not chunks and move_to is None:
        raise PatchParseError(
            f"'{UPDATE}{path}' has no changes; expected '@@' followed by ' ', '-' and '+' lines",
            lineno,
        )
    return UpdateFile(path, move_to, tuple(chunks), line=lineno), i


def _only_blanks_until_next(lines: list[str], i: int, end: int) -> bool:
    while i < end and not lines[i].strip():
        i += 1
    return i >= end or lines[i].startswith("@@") or _is_hunk_header(lines[i], strict=True)


def _parse_chunk(
    lines: list[str], i: int, end: int, *, first: bool, path: str
) -> tuple[Chunk, int]:
    start = i + 1
    headers: list[str] = []
    while i < end and lines[i].startswith("@@"):
        header = _UNIFIED_RANGE.sub("", lines[i][2:].strip(), count=1).strip()
        if header:
            headers.append(header)
        i += 1
    if i == start - 1 and not first:
        # Only the first chunk of a file may omit `@@`: without it two chunks would run together.
        raise PatchParseError(f"expected '@@' to start the next hunk of {path}", start)
    body: list[tuple[Op, str]] = []
    eof = False
    while i < end:
        line = lines[i]
        if line.startswith("@@") or _is_hunk_header(line, strict=True):
            break
        if _is(line, EOF_MARK):
            eof = True
            i += 1
            break
        if line.startswith((" ", "-", "+")):
            body.append((cast(Op, line[0]), line[1:]))
        elif _is(line, NO_EOL) and body and body[-1][0] != "\\":
            body.append(("\\", ""))
        elif not line.strip():
            # A blank line inside a hunk is a blank context line whose space was dropped; blank
            # lines after the last change only separate it from what follows.
            j = i
            while j < end and not lines[j].strip():
                j += 1
            if j >= end or lines[j].startswith("@@") or _is_hunk_header(lines[j], strict=True):
                i = j
                break
            body.extend((" ", "") for _ in range(j - i))
            i = j
            continue
        else:
            raise PatchParseError(
                "expected a hunk line starting with ' ' (context), '-' (remove) or '+' (add), "
                f"or '@@' / '{EOF_MARK}' / the next '*** ...' header, got {line!r}",
                i + 1,
            )
        i += 1
    if not any(op != "\\" for op, _ in body):
        raise PatchParseError(
            f"hunk of {path} has no lines; expected ' ', '-' or '+' lines after '@@'", start
        )
    return Chunk(tuple(headers), tuple(body), eof, line=start), i


def render_patch(patch: Patch) -> str:
    """The canonical text of a patch; `parse_patch(render_patch(p)) == p`."""
    out = [BEGIN]
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            out.append(ADD + hunk.path)
            out.extend("+" + text for text in hunk.lines)
            if hunk.no_eol and hunk.lines:
                out.append(NO_EOL)
        elif isinstance(hunk, DeleteFile):
            out.append(DELETE + hunk.path)
        else:
            out.append(UPDATE + hunk.path)
            if hunk.move_to is not None:
                out.append(MOVE + hunk.move_to)
            for chunk in hunk.chunks:
                out.extend(["@@"] if not chunk.headers else ["@@ " + h for h in chunk.headers])
                out.extend(NO_EOL if op == "\\" else op + text for op, text in chunk.lines)
                if chunk.end_of_file:
                    out.append(EOF_MARK)
    out.append(END)
    return "\n".join(out) + "\n"
