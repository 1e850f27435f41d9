"""A process's output: a bounded buffer of what was not read yet, and a file with all of it.

The buffer keeps a command's memory bounded whatever it prints (its head and its rolling tail,
`MAX_BUFFER_BYTES` in all); the file keeps the output for the model to read back, written as it
arrives once the output outgrows `SPILL_AFTER_BYTES`. The file is bounded too (`MAX_FILE_BYTES`,
`command_limits.max_output_file_bytes`): past it, its first half stays on disk, the last half
rolls in memory and is written after a line saying how much was left out, when the output ends.
A command printing gigabytes adds at most that much to the session's files.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MAX_BUFFER_BYTES = 1024 * 1024
#: Output beyond this many bytes goes to the process's output file as it arrives.
SPILL_AFTER_BYTES = 64 * 1024
#: An output file keeps its head and tail within this many bytes (a runaway `yes` must not fill
#: the disk).
MAX_FILE_BYTES = 8 * 1024 * 1024


class OutputBuffer:
    """Unread output, bounded: beyond `cap` bytes the head is kept and the tail keeps rolling."""

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.overflowing = False
        self.dropped = 0

    def append(self, data: bytes) -> None:
        if not self.overflowing:
            self.head += data
            if len(self.head) <= self.cap:
                return
            half = self.cap // 2
            self.tail = self.head[half:]
            del self.head[half:]
            self.overflowing = True
        else:
            self.tail += data
        excess = len(self.head) + len(self.tail) - self.cap
        if excess > 0:
            # Deleting from the front of a bytearray is cheap in CPython (it moves a pointer).
            del self.tail[:excess]
            self.dropped += excess

    def take(self) -> tuple[bytes, int]:
        out = bytes(self.head)
        dropped = self.dropped
        if self.overflowing:
            out += (
                f"\n[lever: {dropped:,} bytes of output dropped here; unread output is "
                f"limited to {self.cap:,} bytes]\n"
            ).encode()
            out += bytes(self.tail)
        self.head, self.tail = bytearray(), bytearray()
        self.overflowing, self.dropped = False, 0
        return out, dropped


class OutputFile:
    """A process's output in a file, from the moment it outgrows `threshold` bytes: up to
    `limit` // 2 bytes of head written as they come, then a rolling tail of `limit` // 2 bytes
    kept in memory and written (after a note of what was left out) when the output ends."""

    def __init__(self, path: Path | None, threshold: int, limit: int = MAX_FILE_BYTES) -> None:
        self.path = path
        self.threshold = threshold
        self.limit = max(limit, 2)
        self.early = bytearray()
        self.file: BinaryIO | None = None
        self.written = 0
        #: The rolling end of the output past the head, and how much fell out of it.
        self.tail = bytearray()
        self.left_out = 0
        self.done = path is None

    @property
    def spilled(self) -> Path | None:
        return self.path if self.written else None

    def add(self, data: bytes) -> None:
        if self.done:
            return
        if self.file is None:
            self.early += data
            if len(self.early) <= self.threshold:
                return
            data, self.early = bytes(self.early), bytearray()
            if not self._open():
                return
        assert self.file is not None
        room = max(self.limit // 2 - self.written, 0)
        if room:
            self._write(data[:room])
        if len(data) > room:
            self.tail += data[room:]
            excess = len(self.tail) - self.limit // 2
            if excess > 0:
                del self.tail[:excess]  # cheap at the front of a bytearray
                self.left_out += excess

    def _write(self, data: bytes) -> None:
        assert self.file is not None
        try:
            self.file.write(data)
            self.written += len(data)
        except OSError:
            log.warning("could not write output file %s", self.path, exc_info=True)
            self._shut()

    def _open(self) -> bool:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open("wb")
        except OSError:
            log.warning("could not create output file %s", self.path, exc_info=True)
            self.done = True
            return False
        return True

    def close(self) -> None:
        if self.file is not None and not self.done and self.tail:
            if self.left_out:
                self._write(
                    f"\n[lever: {self.left_out:,} bytes of output left out here; this file keeps "
                    f"the first and the last {self.limit // 2:,} bytes]\n".encode()
                )
            self._write(bytes(self.tail))
        self._shut()

    def _shut(self) -> None:
        self.done = True
        self.early = bytearray()
        self.tail = bytearray()
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
