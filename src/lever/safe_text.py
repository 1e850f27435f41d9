"""Text from commands and the model made safe to print on the person's terminal.

Command output and model text are written by whoever controls the repository or steers the
model. Printed raw, their escape sequences act on the terminal: OSC 52 writes the clipboard,
OSC 0/2 set the window title, CSI sequences clear the screen or move the cursor to overwrite
what lever printed, DCS/APC strings talk to the terminal itself, and C1 bytes do the same in
their 8-bit form. `terminal_safe` removes all of them; only SGR colour sequences
(`ESC [ … m`) may stay, where the caller prints to a terminal that shows them.

Both front ends use it: `lever exec`'s renderer (cli/render.py) and the TUI cells.
"""

from __future__ import annotations

import re

# SGR: ESC [ params m, params only digits, `;` and `:` (nothing that could smuggle another
# sequence in).
_SGR = r"\x1b\[[0-9;:]*m"
# String sequences: OSC (ESC ]), DCS (ESC P), SOS (ESC X), PM (ESC ^), APC (ESC _), and their
# C1 forms. They end at BEL or ST (ESC \ or \x9c); an unterminated one (a split chunk) runs to
# the end of the text, so its payload never reaches the terminal.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"
# CSI: ESC [ or \x9b, parameter and intermediate bytes, one final byte (or the text's end).
_CSI = r"(?:\x1b\[|\x9b)[\x20-\x3f]*(?:[\x40-\x7e]|$)"
# Any other escape: ESC plus intermediates plus one final character (charset switches, RIS…).
_ESC = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
# Remaining C0 controls but tab and newline, DEL, and the C1 range.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"

_WITH_SGR = re.compile(f"({_SGR})|{_STRING}|{_CSI}|{_ESC}|{_CONTROL}")
_NO_SGR = re.compile(f"{_STRING}|{_CSI}|{_ESC}|{_CONTROL}")


def terminal_safe(text: str, *, keep_colour: bool = False) -> str:
    """`text` without control sequences and control characters (tab and newline stay;
    `\\r\\n` becomes `\\n`). With `keep_colour`, SGR colour sequences stay."""
    if not text:
        return text
    text = text.replace("\r\n", "\n")
    if keep_colour:
        return _WITH_SGR.sub(lambda match: match.group(1) or "", text)
    return _NO_SGR.sub("", text)


_ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible_controls(text: str) -> str:
    """`text` with every control character shown as `\\xNN`: for what a person must read
    exactly (a command to approve), where removing characters would hide what runs."""
    return _ANY_CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


# An escape sequence still open at the end of a chunk: its introducer, then no terminator yet.
_OPEN_TAIL = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*\x1b?$"
    r"|(?:\x1b\[|\x9b)[\x20-\x3f]*$"
    r"|\x1b[\x20-\x2f]*$"
)
#: An open sequence longer than this is dropped rather than held (a stream of garbage).
MAX_HELD = 4096


class TerminalFilter:
    """`terminal_safe` for a stream: a sequence split across chunks (as the model streams text
    or a command writes output) is held back until it is complete, then removed whole, so no
    fragment of its payload shows as text."""

    def __init__(self, *, keep_colour: bool = False) -> None:
        self.keep_colour = keep_colour
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        self._held = ""
        match = _OPEN_TAIL.search(text)
        if match is not None:
            held = text[match.start() :]
            self._held = held if len(held) <= MAX_HELD else ""
            text = text[: match.start()]
        return terminal_safe(text, keep_colour=self.keep_colour)
