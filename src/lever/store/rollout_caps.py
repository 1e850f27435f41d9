"""Bounds on what one event adds to a session's files, and room on the disk before writing.

A rollout line longer than `MAX_LINE_BYTES` (a huge model answer, a huge tool output) is written
shortened: each long string keeps its head and tail around a marker, and the whole event goes
to `<session id>/events/<seq>.json` beside the rollout, itself cut the same way past
`MAX_STORED_BYTES`. `read_rollout` puts the stored event back in place of the shortened line;
without it (deleted, damaged) the shortened event is used, which is still a valid event.

Before a line is written, the file system must have room for it and `RESERVE_BYTES` more; the
reserve is left for the session's end record, so a full disk still leaves a closed, parseable
rollout (`DiskFullError`).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

#: The longest rollout line; a longer event is stored beside the rollout.
MAX_LINE_BYTES = 1024 * 1024
#: The largest stored event; past it, its long strings are cut too.
MAX_STORED_BYTES = 64 * 1024 * 1024
#: Free space kept back for the session's end record when the disk is nearly full.
RESERVE_BYTES = 256 * 1024
#: What a shortened string says at its cut; the reader looks for it.
MARK = "[lever: cut here in the rollout; the whole event is stored in "
#: The longest string kept whole in a shortened line (its head and tail otherwise).
_KEEP_CHARS = 16 * 1024


class DiskFullError(OSError):
    """The file system has no room for the next rollout line."""


def room_for(fd: int, size: int, reserve: int = RESERVE_BYTES) -> str | None:
    """None when the file system of `fd` has `size` + `reserve` bytes free, else why not."""
    try:
        stats = os.fstatvfs(fd)
    except OSError:
        return None  # cannot tell: the write itself will say
    free = stats.f_bavail * stats.f_frsize
    if stats.f_blocks and free < size + reserve:
        return f"the disk is full: {free:,} bytes free where the session's files are"
    return None


def _shorten(value: Any, keep: int, note: str) -> Any:
    if isinstance(value, str):
        if len(value) <= keep:
            return value
        half = keep // 2
        cut = len(value) - 2 * half
        return f"{value[:half]}\n{note}; {cut:,} characters left out here]\n{value[-half:]}"
    if isinstance(value, dict):
        return {k: _shorten(v, keep, note) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, keep, note) for v in value]
    return value


def shortened(line: str, limit: int, note: str) -> str:
    """`line` (one event's JSON) with its long strings cut until it fits in `limit` bytes."""
    data = json.loads(line)
    keep = max(_KEEP_CHARS, limit // 4)
    while True:
        text = json.dumps(_shorten(data, keep, note), ensure_ascii=False, separators=(",", ":"))
        if len(text.encode()) <= limit or keep <= 64:
            return text
        keep //= 4


def stored_path(artifacts: Path, seq: int) -> Path:
    return artifacts / "events" / f"{seq}.json"


def cap_line(line: str, seq: int, artifacts: Path) -> str:
    """The line to write for an event: `line` itself, or a shortened one with the whole event
    stored beside the rollout (best effort: without room, only the shortened line is kept)."""
    if len(line) <= MAX_LINE_BYTES // 4 or len(line.encode()) <= MAX_LINE_BYTES:
        return line
    from lever.store.rollout import private_dir

    path = stored_path(artifacts, seq)
    whole = line
    if len(line.encode()) > MAX_STORED_BYTES:
        whole = shortened(line, MAX_STORED_BYTES, "[lever: cut here, past the stored-event cap")
    with contextlib.suppress(OSError):
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if room_for(f.fileno(), len(whole)) is None:
                f.write(whole)
    return shortened(line, MAX_LINE_BYTES, f"{MARK}{path.parent.parent.name}/events/{seq}.json")


def stored_event_text(line: str, artifacts: Path, seq: int) -> str | None:
    """The stored whole event of a shortened `line`, or None (not shortened, or not stored)."""
    if MARK not in line:
        return None
    try:
        return stored_path(artifacts, seq).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
