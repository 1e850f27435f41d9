"""Session lists for the dashboard, from the SQLite index (lever.store.index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lever.store.index import SessionIndex

MAX_LIMIT = 500


def list_sessions(
    home: Path, q: str = "", cwd: str = "", status: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; `q` searches the messages (every word must occur), `cwd` and `status`
    filter exactly."""
    limit = max(1, min(limit, MAX_LIMIT))
    with SessionIndex(home) as index:
        index.update()
        if q.strip():
            seen: dict[str, dict[str, Any]] = {}
            for hit in index.search(q, limit=MAX_LIMIT, marks=("", "")):
                row = seen.setdefault(hit.session.id, hit.session.to_dict())
                row.setdefault("snippet", " ".join(hit.snippet.split()))
            rows = list(seen.values())
        else:
            rows = [s.to_dict() for s in index.list_sessions(cwd or None, limit=MAX_LIMIT)]
    rows = [r for r in rows if cwd in ("", r["cwd"]) and status in ("", r["status"])]
    rows = [r for r in rows if r["parent_id"] is None]  # a sub-agent is its parent's part
    for row in rows:
        row.pop("path", None)  # the browser needs the id, not where files live
    return rows[:limit]


def projects(home: Path) -> list[str]:
    """The folders sessions were started in, most recently used first."""
    with SessionIndex(home) as index:
        index.update()
        found = index.db.execute(
            "SELECT cwd, MAX(updated) AS last FROM sessions WHERE parent_id IS NULL "
            "GROUP BY cwd ORDER BY last DESC"
        )
        return [row["cwd"] for row in found]


def rollout_of(home: Path, session_id: str) -> Path | None:
    """The rollout of exactly this session id (no prefix matching: ids come from URLs)."""
    with SessionIndex(home) as index:
        index.update()
        row = index.db.execute("SELECT path FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return Path(row["path"]) if row is not None else None
