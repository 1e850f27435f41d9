"""The one output-truncation function of lever, and lenient decoding of command output.

What the model sees of a long output is its head and its tail with a marker in between saying
how much was cut (and, when the caller saved it, where the full output is), so truncation is
recoverable (DESIGN §11). Budgets are in UTF-8 bytes and lines, because bytes are what costs
tokens and lines are what a person scrolls.
"""

from __future__ import annotations

import codecs

#: Defaults used by the shell tool; other callers may pass their own.
DEFAULT_MAX_BYTES = 16_000
DEFAULT_MAX_LINES = 400

_NUL = "\x00"
_REPLACEMENT = "\ufffd"


def decode_output(data: bytes) -> str:
    """Decode command output without ever failing.

    Invalid UTF-8 becomes U+FFFD. NUL characters are replaced too: several providers and JSON
    consumers reject or truncate at them, and they carry no meaning for the model.
    """
    return data.decode("utf-8", errors="replace").replace(_NUL, _REPLACEMENT)


class StreamDecoder:
    """Incremental form of `decode_output` for live chunks.

    A multibyte character split across two reads is held back until its remaining bytes
    arrive, so live output never shows spurious replacement characters.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, data: bytes, final: bool = False) -> str:
        return self._decoder.decode(data, final).replace(_NUL, _REPLACEMENT)


def _is_continuation(byte: int) -> bool:
    return 0x80 <= byte <= 0xBF


def _head_end(data: bytes, max_bytes: int, max_lines: int) -> int:
    """Index where the head stops: after at most `max_lines` lines and `max_bytes` bytes."""
    if max_bytes <= 0 or max_lines <= 0:
        return 0
    end = 0
    lines = 0
    while lines < max_lines:
        nl = data.find(b"\n", end, max_bytes)
        if nl < 0:
            break
        end = nl + 1
        lines += 1
    if lines < max_lines and end < max_bytes // 2:
        # Whole lines would waste most of the byte budget (a very long line follows): cut
        # mid-line instead, backing off so a multibyte character is never split.
        end = min(max_bytes, len(data))
        while end > 0 and end < len(data) and _is_continuation(data[end]):
            end -= 1
    return end


def _tail_start(data: bytes, max_bytes: int, max_lines: int) -> int:
    """Index where the tail starts: at most `max_lines` lines and `max_bytes` bytes from the end."""
    size = len(data)
    if max_bytes <= 0 or max_lines <= 0:
        return size
    lowest = max(0, size - max_bytes)
    # The final byte is excluded from the search: whether or not it is a newline, it belongs
    # to the last line, which is the first line the tail takes.
    search_end = size - 1
    start = size
    lines = 0
    while lines < max_lines:
        # A newline just before `lowest` still leaves a whole line that fits, hence `lowest - 1`.
        floor = max(0, lowest - 1)
        nl = data.rfind(b"\n", floor, search_end) if search_end > floor else -1
        if nl < 0:
            # The line reaching back past the byte budget (or to the start) does not fit whole.
            if lowest == 0 and start > 0:
                start = 0
                lines += 1
            break
        start = nl + 1
        search_end = nl
        lines += 1
    if lines < max_lines and size - start < max_bytes // 2:
        start = lowest
        while start < size and _is_continuation(data[start]):
            start += 1
    return start


def truncate_output(
    text: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_lines: int = DEFAULT_MAX_LINES,
    *,
    full_output_path: str | None = None,
) -> tuple[str, bool]:
    """Return `(shown, truncated)`: `text` itself when within both budgets, else head + tail.

    Head and tail get half of each budget and are cut on line boundaries where possible (mid-line
    only when a single line is longer than the budget); a UTF-8 character is never split. The
    marker between them says how many bytes and lines were cut and names `full_output_path` when
    given. The marker itself is not counted in the budgets.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    total_lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if len(data) <= max_bytes and total_lines <= max_lines:
        return text, False

    head_bytes, tail_bytes = (max_bytes + 1) // 2, max_bytes // 2
    head_lines, tail_lines = (max_lines + 1) // 2, max_lines // 2
    head_end = _head_end(data, head_bytes, head_lines)
    tail_start = max(head_end, _tail_start(data, tail_bytes, tail_lines))

    middle = data[head_end:tail_start]
    head = data[:head_end].decode("utf-8", errors="surrogatepass")
    tail = data[tail_start:].decode("utf-8", errors="surrogatepass")
    return head + _marker(head, len(middle), middle.count(b"\n"), full_output_path) + tail, True


def _marker(head: str, cut_bytes: int, cut_lines: int, full_output_path: str | None) -> str:
    where = f"; full output: {full_output_path}" if full_output_path else ""
    lines = "line" if cut_lines == 1 else "lines"
    lead = "" if not head or head.endswith("\n") else "\n"
    return f"{lead}[... {cut_bytes:,} bytes, {cut_lines:,} {lines} cut{where} ...]\n"
