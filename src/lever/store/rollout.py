"""One JSONL rollout per session, appended and flushed per event.

Layout: `$LEVER_HOME/sessions/YYYY/MM/DD/rollout-<session id>.jsonl`, with a sibling folder
`<session id>/` for artifacts (full outputs of truncated commands).

Rollouts hold everything a session saw (command output, file contents, the person's prompts):
files are created 0600 and the folders lever creates for them 0700, so other users of the
machine cannot read them whatever the umask.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from lever.protocol import Event, event_from_json, event_to_json


def new_session_id() -> str:
    """Sortable by time, unique enough across a fleet: 20261127T215301-3fa9c2."""
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def session_dir(home: Path, when: float | None = None) -> Path:
    day = time.localtime(when)
    return home / "sessions" / f"{day.tm_year:04d}" / f"{day.tm_mon:02d}" / f"{day.tm_mday:02d}"


class RolloutWriter:
    """Appends events to the rollout file; each line is flushed so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        _drop_torn_tail(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # a rollout written by an older lever may be world-readable
        self._file: IO[str] | None = os.fdopen(fd, "a", encoding="utf-8")

    @classmethod
    def create(cls, home: Path, session_id: str) -> RolloutWriter:
        return cls(session_dir(home) / f"rollout-{session_id}.jsonl")

    @property
    def artifacts_dir(self) -> Path:
        return self.path.with_name(self.path.stem.removeprefix("rollout-"))

    def append(self, event: BaseModel) -> None:
        if self._file is None:
            raise ValueError(f"rollout {self.path} is closed")
        self._file.write(event_to_json(event) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


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


def read_rollout(path: Path) -> Iterator[Event]:
    """Events of a rollout in order. A torn last line (the process died mid-write) is skipped."""
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield event_from_json(line)
        except ValueError:
            if number == len(lines):
                return
            raise


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
