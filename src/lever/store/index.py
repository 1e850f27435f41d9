"""The session index: SQLite at `$LEVER_HOME/index.sqlite`, derived from the rollout files.

The rollouts are the truth; this file only makes listing, search and "resume the last one" fast.
It can be deleted at any time and rebuilt (`reindex`), and an older schema is simply dropped and
rebuilt. Updates are incremental: a rollout whose size and mtime are unchanged is not read again.
Sub-agents' sessions are indexed too (their `session_started` names the parent, and the
parent's `child_started` names the child, which is how sub-agents recorded before rollouts named
their parent are found): listings show the person's sessions, each with its count of children,
and the children only when asked.

Rollouts are read as plain JSON lines rather than typed events: the index must keep working over
files written by other lever versions (event types it does not know are ignored, a torn or
corrupt line is skipped) and a first full pass over many sessions must stay cheap.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lever import safe_json

INDEX_FILE = "index.sqlite"
SCHEMA_VERSION = 3
TITLE_CHARS = 80

_SCHEMA = """
CREATE TABLE sessions(
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    cwd TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    turns INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost REAL,
    parent_id TEXT,
    depth INTEGER NOT NULL,
    children INTEGER NOT NULL,
    file_size INTEGER NOT NULL,
    file_mtime_ns INTEGER NOT NULL
);
CREATE INDEX sessions_by_cwd ON sessions(cwd, updated);
CREATE INDEX sessions_by_updated ON sessions(updated);
CREATE INDEX sessions_by_parent ON sessions(parent_id, started);
CREATE TABLE spawned(
    child_id TEXT PRIMARY KEY,
    parent_id TEXT NOT NULL,
    depth INTEGER NOT NULL
);
CREATE VIRTUAL TABLE messages USING fts5(
    session_id UNINDEXED, seq UNINDEXED, role UNINDEXED, text, tokenize = 'unicode61'
);
"""

#: Messages the harness puts in the history as user messages (environment, AGENTS.md, skills,
#: plan, summary, nudges…; see lever.agent.harness_messages) are each one block wrapped in a
#: lowercase tag. They are not the person's words, so not a title, a turn or a search hit. The
#: rule is generic so tags added later need no change here (and `store` does not import `agent`).
_HARNESS_BLOCK = re.compile(r"^\s*<([a-z][a-z_]*)>.*</\1>\s*$", re.DOTALL)


@dataclass(frozen=True)
class SessionRow:
    id: str
    path: str
    cwd: str
    started: float
    updated: float
    model: str
    provider: str
    title: str
    status: str
    turns: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float | None
    #: A sub-agent's: the session that started it (None: a person's session) and its depth.
    parent_id: str | None = None
    depth: int = 0
    #: Sub-agents this session started (its `child_started` events).
    children: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchHit:
    session: SessionRow
    role: str
    seq: int
    snippet: str


@dataclass
class _Summary:  # one pass over a rollout: the session row and its searchable messages
    row: dict[str, Any]
    messages: list[tuple[int, str, str]]
    #: The sub-agents it started: (child id, the child's depth).
    spawned: list[tuple[str, int]]


class AmbiguousSession(ValueError):
    def __init__(self, prefix: str, ids: list[str]) -> None:
        super().__init__(f"{prefix!r} matches several sessions: {', '.join(ids)}")
        self.ids = ids


def is_harness_message(text: str) -> bool:
    return bool(_HARNESS_BLOCK.match(text))


def make_title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_CHARS else flat[: TITLE_CHARS - 1] + "…"


def _events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                event = safe_json.loads(line)
            except ValueError:
                continue  # a torn last line, or damage: the rest of the file still counts
            if isinstance(event, dict):
                yield event


def summarize_rollout(path: Path) -> _Summary | None:
    """Read one rollout; None when it has no session_started event (nothing to index yet)."""
    row: dict[str, Any] | None = None
    messages: list[tuple[int, str, str]] = []
    spawned: list[tuple[str, int]] = []
    reason: str | None = None
    open_turn = ended = False
    updated = 0.0
    for event in _events(path):
        kind = event.get("type")
        updated = max(updated, float(event.get("ts") or 0.0))
        # Ended only if nothing came after: a resumed session appends to the same rollout.
        ended = kind == "session_ended"
        if kind == "session_started" and row is None:
            row = _start_row(event)
        elif row is None:
            continue
        elif kind == "item":
            item = event.get("item") or {}
            text = str(item.get("text") or "")
            if item.get("type") == "user_message" and not is_harness_message(text):
                row["turns"] += 1
                row["title"] = row["title"] or make_title(text)
                messages.append((int(event.get("seq") or 0), "user", text))
                open_turn = True
            elif item.get("type") == "assistant_message" and text:
                messages.append((int(event.get("seq") or 0), "assistant", text))
        elif kind == "compaction" and not row["title"]:
            # A fork starts from a compaction seed holding the history: its first words title it.
            row["title"] = _first_person_text(event.get("kept") or [])
        elif kind == "token_usage":
            row["input_tokens"] += int(event.get("input_tokens") or 0)
            row["output_tokens"] += int(event.get("output_tokens") or 0)
            row["cached_tokens"] += int(event.get("cached_input_tokens") or 0)
        elif kind == "turn_finished":
            reason, open_turn = str(event.get("reason") or "done"), False
        elif kind == "child_started":
            row["children"] += 1
            if event.get("child_id"):
                spawned.append((str(event["child_id"]), int(event.get("depth") or 1)))
    if row is None:
        return None
    row["updated"] = max(updated, row["started"])
    row["status"] = _status(reason, open_turn, ended)
    return _Summary(row, messages, spawned)


def _first_person_text(items: list[Any]) -> str:
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "user_message":
            continue
        text = str(item.get("text") or "")
        if not is_harness_message(text):
            return make_title(text)
    return ""


def _start_row(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(event.get("session_id") or ""),
        "cwd": str(event.get("cwd") or ""),
        "started": float(event.get("ts") or 0.0),
        "model": str(event.get("model") or ""),
        "provider": str(event.get("provider") or ""),
        "title": "",
        "turns": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost": None,  # filled in once prices per model are known
        "parent_id": str(event["parent_id"]) if event.get("parent_id") else None,
        "depth": int(event.get("depth") or 0),
        "children": 0,
    }


def _status(reason: str | None, open_turn: bool, ended: bool) -> str:
    """The last turn's reason; "running" while a turn is open (or none has run yet in a live
    session); "ended" for a session closed without any finished turn."""
    if open_turn and not ended:
        return "running"
    if reason is not None:
        return reason
    return "ended" if ended else "running"


def _fts_query(text: str) -> str:
    """The person's words as an FTS5 query: every word must occur; no FTS syntax leaks through
    (a '-' or a quote in the search text is a word character here, not an operator)."""
    words = text.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


class SessionIndex:
    """One connection to the index; use as a context manager or call `close()`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / INDEX_FILE
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The index holds titles and first prompts: private like the rollouts. sqlite gives
        # its -wal/-shm files the database's mode.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        with contextlib.suppress(PermissionError):
            os.chmod(self.path, 0o600)
        # A fleet runs many lever processes at once: WAL lets readers go on while one writes,
        # and the timeout makes writers wait for each other instead of failing.
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self._ensure_schema()

    def __enter__(self) -> SessionIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _ensure_schema(self) -> None:
        if self.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        # Taken under the write lock and checked again: another lever may be creating it now.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Derived data: an old or foreign schema is dropped and rebuilt from rollouts.
                for table in ("sessions", "messages", "spawned"):
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    # -- writing ----------------------------------------------------------------------------

    def rollout_paths(self) -> list[Path]:
        return sorted((self.home / "sessions").glob("*/*/*/rollout-*.jsonl"))

    def index_rollout(self, path: Path) -> bool:
        """(Re)index one rollout unless its size and mtime are what the index has; True when
        it was read."""
        path = path.resolve()
        try:
            st = path.stat()
        except FileNotFoundError:
            with self.db:
                self._forget(str(path))
            return False
        known = self.db.execute(
            "SELECT file_size, file_mtime_ns FROM sessions WHERE path = ?", (str(path),)
        ).fetchone()
        if known is not None and tuple(known) == (st.st_size, st.st_mtime_ns):
            return False
        summary = summarize_rollout(path)
        with self.db:
            self._forget(str(path))
            if summary is None:
                return True
            row = {**summary.row, "path": str(path)}
            row.update(file_size=st.st_size, file_mtime_ns=st.st_mtime_ns)
            # The same id under another path (a copied rollout) would clash; the newest wins.
            self.db.execute("DELETE FROM messages WHERE session_id = ?", (row["id"],))
            self.db.execute("DELETE FROM sessions WHERE id = ?", (row["id"],))
            names = ", ".join(row)
            marks = ", ".join(f":{key}" for key in row)
            self.db.execute(f"INSERT INTO sessions({names}) VALUES ({marks})", row)
            self.db.executemany(
                "INSERT INTO messages(session_id, seq, role, text) VALUES (?, ?, ?, ?)",
                [(row["id"], seq, role, text) for seq, role, text in summary.messages],
            )
            self._link_children(row["id"], summary.spawned)
        return True

    def _link_children(self, session_id: str, spawned: list[tuple[str, int]]) -> None:
        """Record the sub-agents a session started, and give any of them indexed without a
        parent (an older rollout) this one; a session whose own rollout names no parent takes
        the one that recorded starting it. The caller holds the transaction."""
        self.db.executemany(
            "INSERT OR REPLACE INTO spawned(child_id, parent_id, depth) VALUES (?, ?, ?)",
            [(child, session_id, depth) for child, depth in spawned],
        )
        self.db.executemany(
            "UPDATE sessions SET parent_id = ?, depth = ? WHERE id = ? AND parent_id IS NULL",
            [(session_id, depth, child) for child, depth in spawned],
        )
        found = self.db.execute(
            "SELECT parent_id, depth FROM spawned WHERE child_id = ?", (session_id,)
        ).fetchone()
        if found is not None:
            self.db.execute(
                "UPDATE sessions SET parent_id = ?, depth = ? WHERE id = ? AND parent_id IS NULL",
                (found["parent_id"], found["depth"], session_id),
            )

    def _forget(self, path: str) -> None:
        """Drop one rollout's rows; the caller holds the transaction."""
        found = self.db.execute("SELECT id FROM sessions WHERE path = ?", (path,)).fetchone()
        if found is not None:
            self.db.execute("DELETE FROM messages WHERE session_id = ?", (found["id"],))
            self.db.execute("DELETE FROM sessions WHERE id = ?", (found["id"],))
            self.db.execute("DELETE FROM spawned WHERE parent_id = ?", (found["id"],))

    def update(self) -> int:
        """The incremental pass: index new and changed rollouts, drop rows of deleted ones.
        Returns how many rollouts were read."""
        paths = self.rollout_paths()
        present = {str(p.resolve()) for p in paths}
        stored = [row["path"] for row in self.db.execute("SELECT path FROM sessions")]
        with self.db:
            for path in stored:
                if path not in present:
                    self._forget(path)
        return sum(self.index_rollout(path) for path in paths)

    def reindex(self) -> int:
        """Forget everything and read every rollout again."""
        with self.db:
            for table in ("sessions", "messages", "spawned"):
                self.db.execute(f"DELETE FROM {table}")
        return self.update()

    # -- reading ----------------------------------------------------------------------------

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[SessionRow]:
        return [_session_row(row) for row in self.db.execute(sql, params)]

    def list_sessions(
        self, cwd: Path | str | None = None, limit: int = 20, *, children: bool = False
    ) -> list[SessionRow]:
        """The person's sessions (not sub-agents), newest first; only those started in `cwd`
        when given. With `children`, each is followed by its sub-agents (and theirs), oldest
        first: `limit` and `cwd` count only the person's sessions."""
        where = "parent_id IS NULL" + ("" if cwd is None else " AND cwd = ?")
        params: tuple[Any, ...] = (limit,) if cwd is None else (str(cwd), limit)
        sql = f"SELECT * FROM sessions WHERE {where} ORDER BY updated DESC, id DESC LIMIT ?"
        top = self._rows(sql, params)
        return self._with_children(top) if children else top

    def _with_children(self, rows: list[SessionRow]) -> list[SessionRow]:
        out: list[SessionRow] = []
        seen: set[str] = set()  # a damaged index could hold a cycle of parents
        stack = list(reversed(rows))
        while stack:
            row = stack.pop()
            if row.id in seen:
                continue
            seen.add(row.id)
            out.append(row)
            sql = "SELECT * FROM sessions WHERE parent_id = ? ORDER BY started DESC, id DESC"
            stack.extend(self._rows(sql, (row.id,)))
        return out

    def search(
        self, text: str, limit: int = 20, marks: tuple[str, str] = ("[", "]")
    ) -> list[SearchHit]:
        """Messages matching every word of `text`, best first, with the words marked."""
        query = _fts_query(text)
        if not query:
            return []
        sql = (
            "SELECT s.*, m.role AS m_role, m.seq AS m_seq, "
            "snippet(messages, 3, ?, ?, '…', 12) AS m_snippet "
            "FROM messages AS m JOIN sessions AS s ON s.id = m.session_id "
            "WHERE messages MATCH ? ORDER BY m.rank, s.updated DESC LIMIT ?"
        )
        rows = self.db.execute(sql, (marks[0], marks[1], query, limit))
        return [
            SearchHit(_session_row(r), r["m_role"], int(r["m_seq"]), r["m_snippet"]) for r in rows
        ]

    def find_session(self, id_or_prefix: str) -> Path | None:
        """The rollout of the session with this id, or the one id starting with it.
        AmbiguousSession when the prefix fits several."""
        exact = self.db.execute(
            "SELECT path FROM sessions WHERE id = ?", (id_or_prefix,)
        ).fetchone()
        if exact is not None:
            return Path(exact["path"])
        pattern = id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db.execute(
            "SELECT id, path FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 11",
            (pattern + "%",),
        ).fetchall()
        if len(rows) > 1:
            raise AmbiguousSession(id_or_prefix, [row["id"] for row in rows])
        return Path(rows[0]["path"]) if rows else None

    def last_session(self, cwd: Path | str | None = None) -> Path | None:
        """The rollout of the most recently updated session (in `cwd` when given)."""
        rows = self.list_sessions(cwd, limit=1)
        return Path(rows[0].path) if rows else None


def _session_row(row: sqlite3.Row) -> SessionRow:
    names = SessionRow.__dataclass_fields__
    return SessionRow(**{key: row[key] for key in names})


def open_index(home: Path | None = None, *, update: bool = True) -> SessionIndex:
    """The index under `home` (default `$LEVER_HOME`), brought up to date unless told not to."""
    from lever.config.loader import lever_home

    index = SessionIndex(home or lever_home())
    if update:
        index.update()
    return index


def reindex(home: Path) -> int:
    with SessionIndex(home) as index:
        return index.reindex()


def find_session(id_or_prefix: str, home: Path | None = None) -> Path | None:
    """For `lever resume ID` / `lever fork ID`: the rollout path, after an incremental update."""
    with open_index(home) as index:
        return index.find_session(id_or_prefix)


def last_session(cwd: Path | str | None = None, home: Path | None = None) -> Path | None:
    """For `lever resume --last`: the newest session's rollout (in `cwd` when given)."""
    with open_index(home) as index:
        return index.last_session(cwd)
