"""truncate_output / decode_output: budgets, exact marker counts, multibyte safety."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lever.tools.truncate import StreamDecoder, decode_output, truncate_output

MARKER = re.compile(
    r"\n?\[\.\.\. ([\d,]+) bytes, ([\d,]+) lines? cut(?:; full output: [^\]]*)? \.\.\.\]\n"
)


def numbered(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(n))


def test_under_budget_is_unchanged() -> None:
    text = numbered(10)
    assert truncate_output(text, max_bytes=10_000, max_lines=10) == (text, False)
    assert truncate_output("", max_bytes=10, max_lines=1) == ("", False)
    exact = "x" * 100
    assert truncate_output(exact, max_bytes=100, max_lines=1) == (exact, False)


def test_line_budget_keeps_head_and_tail_lines_with_exact_counts() -> None:
    text = numbered(1000)
    shown, truncated = truncate_output(text, max_bytes=1_000_000, max_lines=10)
    assert truncated
    tail = "".join(f"line {i}\n" for i in range(995, 1000))
    # Cut: lines 5-9 (7 bytes each), 10-99 (8 bytes), 100-994 (9 bytes) = 35 + 720 + 8055.
    assert shown == numbered(5) + "[... 8,810 bytes, 990 lines cut ...]\n" + tail


def test_byte_budget_cuts_on_line_boundaries() -> None:
    text = numbered(1000)  # lines are 7-9 bytes
    shown, truncated = truncate_output(text, max_bytes=100, max_lines=10_000)
    assert truncated
    head, tail = shown.split("[...")[0], shown.split("...]\n")[1]
    assert head == numbered(10)[: len(head)] and head.endswith("\n")
    assert len(head.encode()) <= 50 and len(tail.encode()) <= 50
    assert tail.startswith("line ") and text.endswith(tail)
    # Whole lines only: 50 bytes hold "line 0\n".."line 6\n" (49 bytes); the tail holds 5 lines
    # of 9 bytes (45 bytes).
    assert head == numbered(7)
    assert tail == "".join(f"line {i}\n" for i in range(995, 1000))
    cut_bytes = len(text.encode()) - len(head) - len(tail)
    assert f"[... {cut_bytes:,} bytes, 988 lines cut ...]" in shown


def test_one_huge_line_is_cut_mid_line() -> None:
    text = "a" * 50_000 + "b" * 50_000
    shown, truncated = truncate_output(text, max_bytes=1_000, max_lines=10)
    assert truncated
    assert shown == "a" * 500 + "\n[... 99,000 bytes, 0 lines cut ...]\n" + "b" * 500


def test_marker_names_full_output_path_and_singular_line() -> None:
    text = "head\n" + "x" * 100 + "\nmid\n" + "y" * 10 + "\ntail\n"
    shown, truncated = truncate_output(
        text, max_bytes=10_000, max_lines=2, full_output_path="/s/art/call_1.txt"
    )
    assert truncated
    # head: 1 line, tail: 1 line; cut: the x line, "mid" and the y line = 3 lines.
    assert shown.startswith("head\n[... ")
    assert "lines cut; full output: /s/art/call_1.txt ...]\ntail\n" in shown
    one = truncate_output("a\nb\nc\n", max_bytes=100, max_lines=2)[0]
    assert one == "a\n[... 2 bytes, 1 line cut ...]\nc\n"


def test_last_line_without_newline_counts() -> None:
    text = "a\nb\nc"  # three lines, the last unterminated
    assert truncate_output(text, max_bytes=100, max_lines=3) == (text, False)
    assert truncate_output(text, max_bytes=100, max_lines=2) == (
        "a\n[... 2 bytes, 1 line cut ...]\nc",
        True,
    )


def test_multibyte_characters_are_never_split() -> None:
    for char in ("é", "€", "😀"):
        text = char * 1000
        for budget in range(7, 40):
            shown, truncated = truncate_output(text, max_bytes=budget, max_lines=5)
            assert truncated
            match = MARKER.search(shown)
            assert match is not None
            head, tail = shown[: match.start()], shown[match.end() :]
            assert set(head) <= {char} and set(tail) <= {char}
            assert len(head.encode()) <= (budget + 1) // 2
            assert len(tail.encode()) <= budget // 2
            cut = int(match.group(1).replace(",", ""))
            assert len(head.encode()) + cut + len(tail.encode()) == len(text.encode())


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(["a", "\n", "é", "😀", " ", "z"]), max_size=400),
    max_bytes=st.integers(min_value=2, max_value=120),
    max_lines=st.integers(min_value=2, max_value=30),
)
def test_truncation_invariants(text: str, max_bytes: int, max_lines: int) -> None:
    shown, truncated = truncate_output(text, max_bytes=max_bytes, max_lines=max_lines)
    data = text.encode()
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if len(data) <= max_bytes and lines <= max_lines:
        assert (shown, truncated) == (text, False)
        return
    assert truncated
    match = MARKER.search(shown)
    assert match is not None
    cut_bytes = int(match.group(1).replace(",", ""))
    cut_lines = int(match.group(2).replace(",", ""))
    tail = shown[match.end() :]
    # The marker's leading newline is only added when the head does not end with one, so the
    # head is either exactly what precedes the match or that plus the newline it swallowed.
    heads = [shown[: match.start()]]
    if match.group(0).startswith("\n"):
        heads.append(heads[0] + "\n")
    ok = False
    for head in heads:
        hb, tb = head.encode(), tail.encode()
        if not (text.startswith(head) and text.endswith(tail)):
            continue
        if len(hb) + cut_bytes + len(tb) != len(data):
            continue
        middle = data[len(hb) : len(data) - len(tb)]
        assert middle.count(b"\n") == cut_lines
        assert len(hb) <= (max_bytes + 1) // 2 and len(tb) <= max_bytes // 2
        assert hb.count(b"\n") <= (max_lines + 1) // 2
        ok = True
    assert ok, (shown, text)


def test_decode_output_is_lenient() -> None:
    assert decode_output(b"ok \xff\xfe\x00 done") == "ok \ufffd\ufffd\ufffd done"
    assert decode_output("héllo".encode()) == "héllo"
    assert "\x00" not in decode_output(bytes(range(256)))


def test_stream_decoder_joins_split_characters() -> None:
    data = "日本語 ok".encode()
    decoder = StreamDecoder()
    parts = [decoder.decode(data[i : i + 1]) for i in range(len(data))]
    parts.append(decoder.decode(b"", final=True))
    assert "".join(parts) == "日本語 ok"
    assert all("\ufffd" not in part for part in parts)
    assert StreamDecoder().decode(b"\xe6\x97", final=True) == "\ufffd"
