"""One JSONL rollout per session, appended and flushed per event.

Layout: `$LEVER_HOME/sessions/YYYY/MM/DD/rollout-<session id>.jsonl`, with a sibling folder
`<session id>/` for artifacts (full outputs of truncated commands, events too long for one
rollout line: `lever.store.rollout_caps`).

Rollouts hold everything a session saw (command output, file contents, the person's prompts):
files are created 0600 and the folders lever creates for them 0700, so other users of the
machine cannot read them whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from lever.protocol import Event, SessionEnded, event_from_json, event_to_json
from lever.store.rollout_caps import RESERVE_BYTES, cap_line, room_for, stored_event_text


def new_session_id() -> str:
    """Sortable by time, unique enough across a fleet: 20261127T215301-3fa9c2."""
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def session_dir(home: Path, when: float | None = None) -> Path:
    day = time.localtime(when)
    return home / "sessions" / f"{day.tm_year:04d}" / f"{day.tm_mon:02d}" / f"{day.tm_mday:02d}"


class RolloutWriter:
    """Appends events to the rollout file; each line is flushed so a crash loses nothing.

    A line is written whole or not at all: with no room on the disk (checked before writing,
    or a failed write, which is undone), `full` says why and only the end record is still
    written, into the space kept back for it (`lever.store.rollout_caps`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        _drop_torn_tail(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # a rollout written by an older lever may be world-readable
        self._fd: int | None = fd
        #: Why events are no longer recorded (the disk is full); None while all is well.
        self.full: str | None = None

    @classmethod
    def create(cls, home: Path, session_id: str) -> RolloutWriter:
        return cls(session_dir(home) / f"rollout-{session_id}.jsonl")

    @property
    def artifacts_dir(self) -> Path:
        return self.path.with_name(self.path.stem.removeprefix("rollout-"))

    def append(self, event: BaseModel) -> None:
        if self._fd is None:
            raise ValueError(f"rollout {self.path} is closed")
        ending = isinstance(event, SessionEnded)
        if self.full is not None and not ending:
            return
        seq = int(getattr(event, "seq", 0))
        data = (cap_line(event_to_json(event), seq, self.artifacts_dir) + "\n").encode()
        why = room_for(self._fd, len(data), 0 if ending else RESERVE_BYTES)
        if why is None:
            why = self._write(self._fd, data)
        if why is not None and self.full is None:
            self.full = f"{why} ({self.path.parent}); the session stopped recording"

    @staticmethod
    def _write(fd: int, data: bytes) -> str | None:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as e:
            # ENOSPC, EFBIG (RLIMIT_FSIZE), EDQUOT…: take the half line back so the file stays
            # a sequence of whole events.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            return f"cannot write the rollout: {e.strerror or e}"
        return None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def private_dir(path: Path) -> None:
    """Create `path` and its missing parents 0700; an existing `path` is made 0700 too."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)


def _drop_torn_tail(path: Path) -> None:
    """A process killed mid-write leaves half a line; cut it so appending starts clean."""
    try:
        with path.open("rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


class RolloutDamaged(ValueError):
    """A line before the last one does not hold an event: the file was damaged after lever
    wrote it. Resuming past the damage would rebuild a history with a hole in it."""


def _reason(error: ValueError) -> str:
    """The first line of a (pydantic) parse error, without its long preamble."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            return str(errors()[0]["msg"])[:200]
    return (str(error).splitlines() or ["unreadable"])[0][:200]


def read_rollout(path: Path) -> Iterator[Event]:
    """Events of a rollout in order. A torn last line (the process died mid-write) is skipped;
    damage anywhere else raises `RolloutDamaged`, naming the line and what is still intact."""
    # Split on "\n" only: `splitlines` also breaks at U+2028, U+0085…, which JSON leaves
    # unescaped inside strings, so a model writing one would make its rollout unreadable.
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        lines = f.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    artifacts = path.with_name(path.stem.removeprefix("rollout-"))
    good = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = event_from_json(line)
            whole = stored_event_text(line, artifacts, event.seq)
            if whole is not None:
                event = _stored_or(event, whole)
        except ValueError as e:
            if number == len(lines):
                return
            raise RolloutDamaged(
                f"{path}: line {number} of {len(lines)} is damaged ({_reason(e)}); the "
                f"{good} events before it are intact, the session cannot be rebuilt past it"
            ) from None
        good += 1
        yield event


def _stored_or(short: Event, text: str) -> Event:
    """The whole event stored beside the rollout, if it is the one `short` was cut from."""
    try:
        whole = event_from_json(text)
    except ValueError:
        return short
    return whole if (whole.seq, whole.type) == (short.seq, short.type) else short


def find_rollout(home: Path, id_prefix: str) -> Path:
    """The rollout of the session whose id starts with `id_prefix` (unique), or an error."""
    matches = sorted((home / "sessions").glob(f"*/*/*/rollout-{id_prefix}*.jsonl"))
    if not matches:
        raise FileNotFoundError(f"no session with id {id_prefix!r} under {home / 'sessions'}")
    if len(matches) > 1:
        names = ", ".join(m.stem.removeprefix("rollout-") for m in matches[:5])
        raise FileNotFoundError(f"{id_prefix!r} matches several sessions: {names}")
    return matches[0]


def latest_rollout(home: Path) -> Path:
    """The most recently written rollout."""
    rollouts = list((home / "sessions").glob("*/*/*/rollout-*.jsonl"))
    if not rollouts:
        raise FileNotFoundError(f"no sessions under {home / 'sessions'}")
    return max(rollouts, key=lambda path: path.stat().st_mtime_ns)
