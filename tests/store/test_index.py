"""The session index, built from real rollouts written by RolloutWriter."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import BaseModel

from lever.protocol import (
    AssistantMessage,
    ChildStarted,
    Compaction,
    ItemAdded,
    SessionEnded,
    SessionStarted,
    TokenUsage,
    ToolCall,
    ToolFinished,
    ToolOutput,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from lever.store import index as index_mod
from lever.store.index import AmbiguousSession, SessionIndex, make_title
from lever.store.rollout import RolloutWriter, session_dir
from lever.testing.fake_model import FakeModelServer
from lever.testing.sessions import fake_session

ENV = "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"
DOCS = "<project_docs>\nrules\n</project_docs>"


@dataclass
class Rollout:
    """Writes a session's events the way Session.emit does: numbered, timestamped, flushed."""

    home: Path
    session_id: str
    cwd: str
    t0: float
    seq: int = 0
    #: False to append to an existing rollout (a resumed session) instead of starting one.
    start: bool = True
    #: A sub-agent's: the session that started it, and its depth.
    parent: str | None = None
    depth: int | None = None
    writer: RolloutWriter = field(init=False)

    def __post_init__(self) -> None:
        name = f"rollout-{self.session_id}.jsonl"
        self.writer = RolloutWriter(session_dir(self.home, self.t0) / name)
        if not self.start:
            return
        self.emit(
            SessionStarted(
                session_id=self.session_id,
                cwd=self.cwd,
                model="gpt-x",
                provider="p",
                parent_id=self.parent,
                depth=self.depth,
            )
        )
        self.emit(ItemAdded(item=UserMessage(text=ENV)))
        self.emit(ItemAdded(item=UserMessage(text=DOCS)))

    @property
    def path(self) -> Path:
        return self.writer.path

    def emit(self, event: BaseModel) -> None:
        self.seq += 1
        event.seq = self.seq  # type: ignore[attr-defined]
        event.ts = self.t0 + self.seq  # type: ignore[attr-defined]
        self.writer.append(event)

    def turn(self, ask: str, answer: str, reason: str = "done", tokens: int = 100) -> None:
        self.emit(ItemAdded(item=UserMessage(text=ask)))
        call = ToolCall(call_id=f"c{self.seq}", name="shell", arguments='{"command":"ls"}')
        self.emit(ItemAdded(item=call))
        self.emit(
            TokenUsage(input_tokens=tokens, output_tokens=10, cached_input_tokens=tokens // 2)
        )
        self.emit(ToolStarted(call_id=call.call_id, name="shell", arguments=call.arguments))
        self.emit(ToolFinished(call_id=call.call_id, name="shell", exit_code=0, full_output="a"))
        self.emit(ItemAdded(item=ToolOutput(call_id=call.call_id, output="a")))
        self.emit(ItemAdded(item=AssistantMessage(text=answer)))
        self.emit(TokenUsage(input_tokens=tokens, output_tokens=20))
        self.emit(TurnFinished(reason=reason, last_message=answer))


T0 = 1_790_000_000.0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def three_sessions(home: Path) -> list[Rollout]:
    a = Rollout(home, "20260901T100000-aaaaaa", "/work/a", T0)
    a.turn("Fix the failing test in parser.py\nplease", "The tokenizer dropped trailing commas.")
    a.turn("Now add a changelog entry", "Added it under Unreleased.", tokens=300)
    a.emit(SessionEnded())
    a.writer.close()
    b = Rollout(home, "20260902T100000-bbbbbb", "/work/b", T0 + 86_400)
    b.turn("Speed up the importer " + "x" * 100, "Hit the turn limit.", reason="limit")
    b.writer.close()
    c = Rollout(home, "20260903T100000-cccccc", "/work/a", T0 + 2 * 86_400)
    c.emit(ItemAdded(item=UserMessage(text="Rename the parser module")))  # mid-turn: no finish
    c.writer.close()
    return [a, b, c]


def rows(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "index.sqlite") as db:
        return db.execute("SELECT * FROM sessions ORDER BY id").fetchall()


def test_rows_numbers_titles_and_status(home: Path) -> None:
    a, b, c = three_sessions(home)
    with SessionIndex(home) as index:
        assert index.update() == 3
        sessions = index.list_sessions()
    assert [s.id for s in sessions] == [c.session_id, b.session_id, a.session_id]
    sa = sessions[2]
    assert (sa.cwd, sa.model, sa.provider) == ("/work/a", "gpt-x", "p")
    assert sa.title == "Fix the failing test in parser.py please"  # not the context blocks
    assert (sa.status, sa.turns) == ("done", 2)
    assert (sa.input_tokens, sa.output_tokens, sa.cached_tokens) == (800, 60, 200)
    assert sa.total_tokens == 860 and sa.cost is None
    assert sa.started == T0 + 1 and sa.updated == T0 + a.seq
    assert sa.path == str(a.path.resolve())
    sb = sessions[1]
    assert sb.status == "limit" and len(sb.title) == 80 and sb.title.endswith("…")
    sc = sessions[0]
    assert (sc.status, sc.turns, sc.title) == ("running", 1, "Rename the parser module")


def test_status_of_a_session_without_turns() -> None:
    assert index_mod._status(None, False, True) == "ended"
    assert index_mod._status(None, False, False) == "running"
    assert index_mod._status("done", True, False) == "running"
    assert index_mod._status("interrupted", False, True) == "interrupted"
    assert make_title("  a\n\n b ") == "a b"


def test_list_by_cwd_and_limit(home: Path) -> None:
    a, _, c = three_sessions(home)
    with SessionIndex(home) as index:
        index.update()
        assert [s.id for s in index.list_sessions("/work/a")] == [c.session_id, a.session_id]
        assert [s.id for s in index.list_sessions(limit=1)] == [c.session_id]
        assert index.list_sessions("/nowhere") == []


def test_sub_agents_are_counted_and_listed_under_their_parent_only_when_asked(
    home: Path,
) -> None:
    a, b, c = three_sessions(home)
    day = 86_400

    def child(session_id: str, t0: float, parent: Rollout, depth: int) -> Rollout:
        kid = Rollout(home, session_id, "/tmp/t1", t0, parent=parent.session_id, depth=depth)
        kid.turn("ROLE look around", "seen")
        kid.writer.close()
        return kid

    first = child("20260902T100100-kid111", T0 + day + 50, b, 1)
    grand = child("20260902T100200-grand1", T0 + day + 60, first, 2)
    # The newest rollout of all is a sub-agent's: it does not make itself or its parent "last".
    second = child("20260905T100000-kid222", T0 + 3 * day, b, 1)
    more = Rollout(home, b.session_id, b.cwd, b.t0, seq=b.seq, start=False)
    for kid in (first, second):
        started = ChildStarted(call_id="x", child_id=kid.session_id, task="t", mode="", cwd="/")
        more.emit(started)
    more.writer.close()

    with SessionIndex(home) as index:
        index.update()
        top = index.list_sessions()
        nested = index.list_sessions(limit=2, children=True)
        assert index.last_session() == c.path.resolve()
        assert index.list_sessions("/tmp/t1") == []  # a child's folder is not the person's
    assert [(s.id, s.children) for s in top] == [
        (r.session_id, n) for r, n in [(c, 0), (b, 2), (a, 0)]
    ]
    expected = [(c, None, 0), (b, None, 0), (first, b, 1), (grand, first, 2), (second, b, 1)]
    assert [(s.id, s.parent_id, s.depth) for s in nested] == [
        (r.session_id, p.session_id if p else None, d) for r, p, d in expected
    ]


@pytest.mark.parametrize("child_first", [True, False])
def test_a_sub_agent_recorded_before_rollouts_named_their_parent_is_found_by_its_parent(
    home: Path, child_first: bool
) -> None:
    """Its own session_started names no parent; the parent's child_started names it. Either
    may be indexed first (the child's file may be older, or changed later)."""
    _, b, _ = three_sessions(home)
    old_child = Rollout(home, "20260902T100100-old111", "/tmp/t1", T0 + 86_400 + 50)
    old_child.turn("ROLE look around", "seen")
    old_child.writer.close()
    more = Rollout(home, b.session_id, b.cwd, b.t0, seq=b.seq, start=False)
    started = ChildStarted(
        call_id="x", child_id=old_child.session_id, task="t", mode="", cwd="/", depth=1
    )
    more.emit(started)
    more.writer.close()

    with SessionIndex(home) as index:
        order = [old_child.path, b.path] if child_first else [b.path, old_child.path]
        for path in order:
            index.index_rollout(path)
        index.update()
        top = [s.id for s in index.list_sessions()]
        nested = index.list_sessions(children=True)
        # Changed later (resumed): read again, it keeps the parent that started it.
        again = Rollout(home, old_child.session_id, "/tmp/t1", old_child.t0, seq=old_child.seq,
                        start=False)  # fmt: skip
        again.turn("ROLE and more", "done")
        again.writer.close()
        assert index.update() == 1
        after = {s.id: s.parent_id for s in index.list_sessions(children=True)}
    assert old_child.session_id not in top and b.session_id in top
    assert [(s.id, s.parent_id, s.depth) for s in nested if s.parent_id] == [
        (old_child.session_id, b.session_id, 1)
    ]
    assert after[old_child.session_id] == b.session_id


def test_incremental_update_reads_only_changed_files(home: Path) -> None:
    a, b, _ = three_sessions(home)
    with SessionIndex(home) as index:
        assert index.update() == 3
        assert index.update() == 0
        # An appended turn changes size and mtime: only that rollout is read again.
        more = Rollout(home, b.session_id, b.cwd, b.t0, seq=b.seq, start=False)
        more.turn("One more try", "Done now.")
        more.writer.close()
        assert index.update() == 1
        [sb] = [s for s in index.list_sessions() if s.id == b.session_id]
        assert (sb.turns, sb.status) == (2, "done")
        # Resumed after it ended: a new session_started and an open turn make it running again.
        a.writer = RolloutWriter(a.path)
        a.emit(SessionStarted(session_id=a.session_id, cwd=a.cwd, model="gpt-x", provider="p"))
        a.emit(ItemAdded(item=UserMessage(text="And the docs")))
        a.writer.close()
        assert index.update() == 1
        [sa] = [s for s in index.list_sessions() if s.id == a.session_id]
        assert (sa.turns, sa.status, sa.started) == (3, "running", T0 + 1)
        # A deleted rollout leaves the index too.
        a.path.unlink()
        assert index.update() == 0
        assert a.session_id not in {s.id for s in index.list_sessions()}


def test_deleting_the_index_and_rebuilding_gives_the_same_rows(home: Path) -> None:
    three_sessions(home)
    with SessionIndex(home) as index:
        index.update()
    before = rows(home)
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (home / name).unlink(missing_ok=True)
    assert index_mod.reindex(home) == 3
    assert rows(home) == before
    assert index_mod.reindex(home) == 3  # reindex rereads even unchanged files
    assert rows(home) == before


def test_old_schema_is_dropped_and_rebuilt(home: Path) -> None:
    three_sessions(home)
    home.mkdir(exist_ok=True)
    with sqlite3.connect(home / "index.sqlite") as db:
        db.execute("CREATE TABLE sessions(x)")
        db.execute("PRAGMA user_version = 0")
    with index_mod.open_index(home) as index:
        assert len(index.list_sessions()) == 3


def test_search_hits_user_and_assistant_messages_with_snippets(home: Path) -> None:
    a, _, _ = three_sessions(home)
    with SessionIndex(home) as index:
        index.update()
        [hit] = index.search("tokenizer commas")
        assert (hit.session.id, hit.role) == (a.session_id, "assistant")
        assert hit.snippet == "The [tokenizer] dropped trailing [commas]."
        hits = index.search("parser")
        assert {(h.session.id, h.role) for h in hits} == {
            (a.session_id, "user"),
            ("20260903T100000-cccccc", "user"),
        }
        assert index.search("environment_context") == []  # context blocks are not indexed
        assert index.search('"unbalanced -quote AND') == []  # no FTS syntax errors
        assert index.search("   ") == []
        assert len(index.search("the", limit=2)) == 2


def test_find_and_last_session_return_rollout_paths(home: Path) -> None:
    a, b, c = three_sessions(home)
    assert index_mod.find_session(a.session_id, home) == a.path.resolve()
    assert index_mod.find_session("20260902", home) == b.path.resolve()
    assert index_mod.find_session("2027", home) is None
    assert index_mod.find_session("%", home) is None  # LIKE wildcards are literal
    with pytest.raises(AmbiguousSession) as info:
        index_mod.find_session("202609", home)
    assert len(info.value.ids) == 3
    assert index_mod.last_session(home=home) == c.path.resolve()
    assert index_mod.last_session("/work/b", home) == b.path.resolve()
    assert index_mod.last_session("/nowhere", home) is None


def test_new_rollout_is_found_without_a_manual_reindex(home: Path) -> None:
    three_sessions(home)
    assert index_mod.last_session("/work/d", home) is None
    d = Rollout(home, "20260904T100000-dddddd", "/work/d", T0 + 3 * 86_400)
    d.writer.close()
    assert index_mod.last_session("/work/d", home) == d.path.resolve()


def test_torn_and_foreign_lines_do_not_stop_indexing(home: Path) -> None:
    a = Rollout(home, "20260905T100000-eeeeee", "/w", T0)
    a.turn("Hello there", "Hi.")
    a.writer.close()
    with a.path.open("a") as f:
        f.write('{"type": "from_a_newer_lever", "seq": 99, "ts": 1}\n{"seq": 100, "ty')
    with SessionIndex(home) as index:
        index.update()
        [row] = index.list_sessions()
    assert (row.title, row.turns, row.status) == ("Hello there", 1, "done")


async def test_a_real_session_rollout(home: Path) -> None:
    """A rollout written by Session itself: its environment context is no title or turn."""
    with FakeModelServer([{"text": "All green."}]) as server:
        session = fake_session(
            server,
            home.parent,
            rollout=RolloutWriter.create(home, "20260906T100000-ffffff"),
            session_id="20260906T100000-ffffff",
        )
        session.start()
        await session.run_turn("Run the tests")
        await session.close()
    with index_mod.open_index(home) as index:
        [row] = index.list_sessions(str(home.parent.resolve()))
    assert (row.title, row.turns, row.status) == ("Run the tests", 1, "done")
    assert (row.model, row.provider) == ("fake-model", "openai-chat")


def test_harness_messages_are_not_turns_and_a_fork_seed_gives_the_title(home: Path) -> None:
    fork = Rollout(home, "20260907T100000-999999", "/w", T0)
    kept = [
        UserMessage(text=ENV),
        UserMessage(text="Port the CLI to argparse"),
        UserMessage(text="<plan>\n- [x] a\n</plan>"),
    ]
    fork.emit(Compaction(summary="", kept=kept))
    fork.emit(ItemAdded(item=UserMessage(text="<nudge>\nThe plan has pending steps.\n</nudge>")))
    fork.turn("<b>Bold</b> move: now the tests", "Done.")
    fork.writer.close()
    with SessionIndex(home) as index:
        index.update()
        [row] = index.list_sessions()
        assert (row.title, row.turns) == ("Port the CLI to argparse", 1)
        assert index.search("pending") == []
        assert [h.role for h in index.search("bold move")] == ["user"]


def test_rollout_without_start_is_not_listed(home: Path) -> None:
    path = session_dir(home, T0) / "rollout-empty.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("")
    os.utime(path, (T0, T0))
    with SessionIndex(home) as index:
        index.update()
        assert index.list_sessions() == []
