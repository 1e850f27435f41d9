"""`lever sessions`: list past sessions, search what was said, rebuild the index."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lever.humanize import short_tokens

if TYPE_CHECKING:
    from lever.store.index import SearchHit, SessionRow

_TITLE_WIDTH = 50


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "sessions",
        help="list past sessions (newest first), search them, rebuild the index",
        description="List the sessions started in the current folder, newest first (--all for "
        "every folder), with how many sub-agents (spawn_agent) each started; --children lists "
        "those sub-agents' own sessions under their parent. The index is derived from the "
        "rollout files under $LEVER_HOME/sessions and is brought up to date on every call; "
        "`reindex` rebuilds it from scratch.",
    )
    _add_list_flags(p)
    actions = p.add_subparsers(dest="sessions_command", metavar="ACTION")
    # The flags are accepted before and after the action (`sessions --all list` and `sessions
    # list --all`). A subparser writes its defaults over the parent's values, so its own
    # defaults are SUPPRESS: unset there, the parent's value (or default) stands.
    _add_list_flags(actions.add_parser("list", help="list sessions (the default)"), inherit=True)
    search = actions.add_parser("search", help="full-text search over the messages of sessions")
    search.add_argument("text", nargs="+", help="words that must all occur in a message")
    search.add_argument(
        "--limit", type=int, default=argparse.SUPPRESS, help="at most this many hits (20)"
    )
    search.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print hits as JSON lines"
    )
    actions.add_parser("reindex", help="rebuild the index from the rollout files")
    return p


def _add_list_flags(p: argparse.ArgumentParser, *, inherit: bool = False) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if inherit else value

    p.add_argument(
        "--all",
        action="store_true",
        default=default(False),
        help="sessions of every folder, not just cwd",
    )
    p.add_argument(
        "--children",
        action="store_true",
        default=default(False),
        help="also list sub-agents' sessions, each under the session that started it",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=default(20),
        help="at most this many sessions (20, not counting sub-agents)",
    )
    p.add_argument(
        "--json", action="store_true", default=default(False), help="print sessions as JSON lines"
    )


def run(args: argparse.Namespace) -> int:
    from lever.store.index import open_index

    action = args.sessions_command or "list"
    with open_index(update=action != "reindex") as index:
        if action == "reindex":
            count = index.reindex()
            print(f"indexed {count} session{'s' if count != 1 else ''} into {index.path}")
            return 0
        if action == "search":
            hits = index.search(" ".join(args.text), limit=args.limit)
            _print_hits(hits, args.json)
            return 0
        cwd = None if args.all else _cwd()
        rows = index.list_sessions(cwd, limit=args.limit, children=args.children)
        _print_sessions(rows, args.json, args.all)
    return 0


def _cwd() -> str:
    from pathlib import Path

    return str(Path.cwd().resolve())


def _when(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _short_path(path: str) -> str:
    from pathlib import Path

    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home + "/") else path


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _print_sessions(sessions: list[SessionRow], as_json: bool, every_cwd: bool) -> None:
    import json

    if as_json:
        for session in sessions:
            print(json.dumps(session.to_dict()))
        return
    if not sessions:
        where = "" if every_cwd else " in this folder (--all shows every folder)"
        print(f"no sessions{where}")
        return
    rows = [["ID", "WHEN", "CWD", "TITLE", "STATUS", "TURNS", "TOKENS", "SUB-AGENTS"]]
    for s in sessions:
        rows.append(
            [
                _id_cell(s),
                _when(s.updated),
                _short_path(s.cwd),
                _clip(s.title, _TITLE_WIDTH) or "-",
                s.status,
                str(s.turns),
                short_tokens(s.total_tokens),
                str(s.children),
            ]
        )
    print(_table(rows))


def _id_cell(session: SessionRow) -> str:
    """A sub-agent's id is indented under its parent's (`--children`)."""
    if session.parent_id is None:
        return session.id
    return "  " * max(session.depth - 1, 0) + "↳ " + session.id


def _print_hits(hits: list[SearchHit], as_json: bool) -> None:
    import json

    if as_json:
        for hit in hits:
            record = {"session": hit.session.to_dict(), "role": hit.role, "seq": hit.seq}
            print(json.dumps({**record, "snippet": hit.snippet}))
        return
    if not hits:
        print("no matches")
        return
    for hit in hits:
        s = hit.session
        child = f" (sub-agent of {s.parent_id})" if s.parent_id else ""
        title = _clip(s.title, _TITLE_WIDTH)
        print(f"{s.id}{child}  {_when(s.updated)}  {_short_path(s.cwd)}  {title}")
        print(f"    {hit.role}: {' '.join(hit.snippet.split())}")
