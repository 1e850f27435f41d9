"""Text plumbing for apply_patch: line ends, tolerant matching, re-indenting, error messages.

Kept apart from `patch_apply` so each stays small; nothing here touches the file system.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lever.tools.patch_parser import Chunk

# Typographic characters models rarely reproduce exactly, mapped to what they type instead.
_PUNCT = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys(
            "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
        "\u2026": "...",
    }
)


def normalize(line: str) -> str:
    return line.translate(_PUNCT).strip()


def _identity(line: str) -> str:
    return line


#: Comparison levels, strictest first; a chunk takes the first level at which it matches.
LEVELS: tuple[Callable[[str], str], ...] = (_identity, str.rstrip, str.strip, normalize)
LEVEL_NAMES = (
    "exactly",
    "ignoring trailing whitespace",
    "ignoring indentation (added lines were re-indented like the matched ones)",
    "after normalising unicode punctuation and whitespace",
)


@dataclass
class FileText:
    """A text file as lines without their ends, plus what is needed to write it back."""

    lines: list[str]
    #: Per line: was it ended by CRLF (the last line of a file without final newline: the
    #: dominant style, used if lines are appended after it).
    crlf: list[bool]
    #: Does the last line end with a newline? (True for an empty file: text added to it gets one.)
    eol: bool
    #: The file's usual line end, given to added lines.
    dominant_crlf: bool

    def len_without_trailing_blanks(self) -> int:
        n = len(self.lines)
        while n and not self.lines[n - 1].strip():
            n -= 1
        return n


def split_text(text: str) -> FileText:
    parts = text.split("\n")
    eol = parts[-1] == ""
    if eol:
        parts.pop()
    crlf = [p.endswith("\r") for p in parts[: len(parts) if eol else len(parts) - 1]]
    dominant = sum(crlf) * 2 > len(crlf)
    lines = [p[:-1] if is_crlf else p for p, is_crlf in zip(parts, crlf, strict=False)]
    if not eol:
        lines.append(parts[-1])
        crlf.append(dominant)
    return FileText(lines, crlf, eol, dominant)


def join_text(ft: FileText) -> str:
    out: list[str] = []
    last = len(ft.lines) - 1
    for i, (line, is_crlf) in enumerate(zip(ft.lines, ft.crlf, strict=True)):
        out.append(line)
        if i < last or ft.eol:
            out.append("\r\n" if is_crlf else "\n")
    return "".join(out)


class Matcher:
    """Finds a sequence of lines in a file, at the strictest level that matches."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self._keys: dict[int, list[str]] = {}

    def keys(self, level: int) -> list[str]:
        if level not in self._keys:
            self._keys[level] = [LEVELS[level](line) for line in self.lines]
        return self._keys[level]

    def seek(
        self, pattern: Sequence[str], start: int, end_at: int | None = None
    ) -> tuple[int, int] | None:
        """(index, level) of the first match at or after `start`, or None.

        With `end_at`, the match must end exactly there (a chunk anchored at end of file).
        """
        m = len(pattern)
        n = len(self.lines)
        if end_at is not None:
            positions: Sequence[int] = [end_at - m] if end_at - m >= start else []
        else:
            positions = range(start, n - m + 1)
        for level, fn in enumerate(LEVELS):
            keys = self.keys(level)
            pat = [fn(p) for p in pattern]
            for i in positions:
                if keys[i] == pat[0] and keys[i : i + m] == pat:
                    return i, level
        return None

    def seek_header(self, header: str, start: int) -> int | None:
        hit = self.seek([header], start)
        if hit is not None:
            return hit[0]
        # `@@ def handler` for `def handler(request):` — a header is often just the line's start.
        want = normalize(header)
        keys = self.keys(len(LEVELS) - 1)
        return next((i for i in range(start, len(keys)) if keys[i].startswith(want)), None)

    def longest_prefix(self, pattern: Sequence[str], start: int) -> tuple[int, int]:
        """(k, at): the longest run of pattern[:k] matching the file (leniently) at `at`."""
        keys = self.keys(len(LEVELS) - 1)
        pat = [normalize(p) for p in pattern]
        best_k, best_at = 0, start
        for i in range(start, len(keys)):
            k = 0
            while k < len(pat) - 1 and i + k < len(keys) and keys[i + k] == pat[k]:
                k += 1
            if k > best_k:
                best_k, best_at = k, i
        return best_k, best_at


def closest_window(lines: Sequence[str], pattern: Sequence[str]) -> tuple[int, int] | None:
    """[lo, hi) of the stretch of `lines` most similar to `pattern` (the "did you mean")."""
    if not lines or not pattern:
        return None
    size = min(len(pattern), len(lines))
    stripped = [line.strip() for line in lines]
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(p.strip() for p in pattern))
    best, best_at = 0.0, None
    # Files can be long; real_quick_ratio/quick_ratio are upper bounds that skip most windows.
    for i in range(len(lines) - size + 1):
        matcher.set_seq1("\n".join(stripped[i : i + size]))
        if (
            matcher.real_quick_ratio() > best
            and matcher.quick_ratio() > best
            and matcher.ratio() > best
        ):
            best, best_at = matcher.ratio(), i
    if best_at is None or best < 0.3:
        return None
    return best_at, best_at + size


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def reindenter(file_lines: Sequence[str], patch_lines: Sequence[str]) -> Callable[[str], str]:
    """How to re-indent added lines when the hunk matched with different indentation.

    If the model wrote the context 4 spaces shallower (or with spaces where the file has tabs)
    its added lines are off the same way; shift them like the matched lines, when every
    matched pair agrees on one rule. Otherwise leave them as written.
    """
    pairs = [
        (_indent(p), _indent(f))
        for p, f in zip(patch_lines, file_lines, strict=True)
        if p.strip() and f.strip()
    ]
    known: dict[str, str] = {}
    for p, f in pairs:
        if known.setdefault(p, f) != f:
            known = {}
            break
    rules: list[Callable[[str], str]] = []
    if pairs:
        p0, f0 = pairs[0]
        if f0.endswith(p0):
            rules.append(_prefixer(f0[: len(f0) - len(p0)]))
        if p0.endswith(f0):
            rules.append(_unprefixer(p0[: len(p0) - len(f0)]))
    for width in (4, 2, 8):
        rules.append(_retabber(" " * width, "\t"))
        rules.append(_retabber("\t", " " * width))
    rule = next((r for r in rules if pairs and all(r(p) == f for p, f in pairs)), None)

    def fix(line: str) -> str:
        if not line.strip():
            return line
        ind = _indent(line)
        if ind in known:
            return known[ind] + line[len(ind) :]
        return rule(ind) + line[len(ind) :] if rule else line

    return fix


def _prefixer(extra: str) -> Callable[[str], str]:
    return lambda ind: extra + ind


def _unprefixer(cut: str) -> Callable[[str], str]:
    return lambda ind: ind.removeprefix(cut)


def _retabber(old: str, new: str) -> Callable[[str], str]:
    return lambda ind: ind.replace(old, new)


# -- error messages ----------------------------------------------------------------------


def _hunk_name(number: int, chunk: Chunk) -> str:
    header = " ".join(f"@@ {h}" for h in chunk.headers) if chunk.headers else "no @@ header"
    where = f", patch line {chunk.line}" if chunk.line else ""
    return f"hunk {number} ({header}{where})"


def _numbered(ft: FileText, start: int, end: int) -> str:
    width = len(str(end))
    return "\n".join(f"  {i + 1:>{width}} | {ft.lines[i]}" for i in range(start, end))


def header_error(
    display: str, number: int, chunk: Chunk, header: str, ft: FileText, start: int
) -> str:
    msg = (
        f"{display}: {_hunk_name(number, chunk)} did not apply: the @@ context line "
        f"{header!r} was not found" + (f" after line {start}" if start else "") + "."
    )
    stripped = [line.strip() for line in ft.lines]
    close = difflib.get_close_matches(header.strip(), stripped, n=3, cutoff=0.5)
    shown = sorted({stripped.index(c) for c in close})
    if shown:
        msg += f"\nClosest lines in {display} (did you mean?):\n"
        msg += "\n".join(_numbered(ft, i, i + 1) for i in shown)
    return msg


def mismatch_error(
    display: str, number: int, chunk: Chunk, ft: FileText, matcher: Matcher, start: int
) -> str:
    old_ops = [(op, t) for op, t in chunk.lines if op in " -"]
    old = [t for _, t in old_ops]
    msg = f"{display}: {_hunk_name(number, chunk)} did not apply."
    best_k, best_at = matcher.longest_prefix(old, start)
    kind = {" ": "context", "-": "removed"}
    op, text = old_ops[best_k]
    if best_k == 0:
        msg += (
            f"\nIts first {kind[op]} line was not found"
            + (f" after line {start}" if start else "")
            + f":\n  {op}{text}"
        )
    else:
        last = best_at + best_k
        matched = (
            f"Line 1 of the hunk matches file line {last}"
            if best_k == 1
            else f"Lines 1-{best_k} of the hunk match file lines {best_at + 1}-{last}"
        )
        msg += (
            f"\n{matched}, but its {kind[op]} line {best_k + 1} does not follow:\n  {op}{text}\n"
            + (
                f"File line {last + 1} is:\n{_numbered(ft, last, last + 1)}"
                if last < len(ft.lines)
                else "The file ends there."
            )
        )
    if chunk.end_of_file:
        msg += "\nThe hunk is anchored with '*** End of File'."
    earlier = matcher.seek(old, 0)
    if start and earlier is not None and earlier[0] < start:
        msg += (
            f"\nThese lines do occur at line {earlier[0] + 1}, before the previous hunk or @@ "
            f"line (line {start}): hunks must follow the order of the file."
        )
    window = closest_window(ft.lines, old)
    if window is not None:
        lo, hi = window
        msg += f"\nClosest lines in {display} (did you mean?):\n{_numbered(ft, lo, hi)}"
    return msg
