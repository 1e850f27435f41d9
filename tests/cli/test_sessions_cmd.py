"""`lever sessions`: list, search and reindex, driven through lever.cli.main.main."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lever.cli.main import main
from tests.store.test_index import T0, Rollout


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LEVER_HOME", str(home))
    return home


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    return here.resolve()


def sessions(home: Path, here: Path) -> list[Rollout]:
    a = Rollout(home, "20260901T100000-aaaaaa", str(here), T0)
    a.turn("Fix the flaky websocket test", "It was a race in the reconnect loop.", tokens=600)
    a.writer.close()
    b = Rollout(home, "20260902T100000-bbbbbb", "/elsewhere", T0 + 3600)
    b.turn("Write the release notes", "Done.", reason="interrupted")
    b.writer.close()
    return [a, b]


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def test_lists_sessions_of_this_folder_as_a_table(home, here, capsys) -> None:
    a, _ = sessions(home, here)
    assert main(["sessions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = ["ID", "WHEN", "CWD", "TITLE", "STATUS", "TURNS", "TOKENS", "SUB-AGENTS"]
    assert lines[0].split() == head
    assert len(lines) == 2
    row = lines[1]
    assert row.startswith(f"20260901T100000-aaaaaa  {when(a.t0 + a.seq)}  {here}  ")
    assert row.split()[-4:] == ["done", "1", "1.2k", "0"]  # 1200 in + 30 out, no sub-agents
    assert "Fix the flaky websocket test" in row


def test_all_lists_every_folder_newest_first(home, here, capsys) -> None:
    sessions(home, here)
    assert main(["sessions", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == [
        "20260902T100000-bbbbbb",
        "20260901T100000-aaaaaa",
    ]
    assert "interrupted" in lines[1] and "/elsewhere" in lines[1]
    assert main(["sessions", "list", "--all", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_json_lines(home, here, capsys) -> None:
    sessions(home, here)
    assert main(["sessions", "--all", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["20260902T100000-bbbbbb", "20260901T100000-aaaaaa"]
    assert records[1]["input_tokens"] == 1200 and records[1]["cost"] is None
    assert records[1]["path"].endswith("rollout-20260901T100000-aaaaaa.jsonl")


def test_empty_folder_says_so(home, here, capsys) -> None:
    assert main(["sessions"]) == 0
    assert capsys.readouterr().out == "no sessions in this folder (--all shows every folder)\n"


def test_new_rollouts_are_indexed_before_listing(home, here, capsys) -> None:
    sessions(home, here)
    main(["sessions"])
    capsys.readouterr()
    c = Rollout(home, "20260903T100000-cccccc", str(here), T0 + 7200)
    c.turn("Bump the version", "Bumped.")
    c.writer.close()
    main(["sessions"])
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert ids == ["20260903T100000-cccccc", "20260901T100000-aaaaaa"]


def test_search_prints_the_session_and_a_snippet(home, here, capsys) -> None:
    sessions(home, here)
    assert main(["sessions", "search", "reconnect", "race"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("20260901T100000-aaaaaa  ")
    assert out[0].endswith("Fix the flaky websocket test")
    assert out[1] == "    assistant: It was a [race] in the [reconnect] loop."
    assert main(["sessions", "search", "nothing-like-this"]) == 0
    assert capsys.readouterr().out == "no matches\n"


def test_reindex_after_the_index_is_deleted(home, here, capsys) -> None:
    sessions(home, here)
    main(["sessions", "--all", "--json"])
    before = capsys.readouterr().out
    (home / "index.sqlite").unlink()
    assert main(["sessions", "reindex"]) == 0
    assert capsys.readouterr().out == f"indexed 2 sessions into {home / 'index.sqlite'}\n"
    main(["sessions", "--all", "--json"])
    assert capsys.readouterr().out == before


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "--all", "list"],
        ["sessions", "list", "--all"],
        ["sessions", "--all", "--json", "list", "--limit", "5"],
    ],
)
def test_list_flags_work_before_and_after_the_action(home, here, capsys, argv) -> None:
    sessions(home, here)
    assert main(argv) == 0
    out = capsys.readouterr().out
    # Only --all shows the session started in /elsewhere.
    assert "20260902T100000-bbbbbb" in out and "20260901T100000-aaaaaa" in out
    if "--json" in argv:
        assert [json.loads(line)["cwd"] for line in out.splitlines()] == ["/elsewhere", str(here)]


def test_flags_of_the_action_override_the_parents(home, here, capsys) -> None:
    sessions(home, here)
    assert main(["sessions", "--limit", "5", "list", "--all", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # the header and one session
    assert main(["sessions", "--json", "search", "websocket"]) == 0
    hit = json.loads(capsys.readouterr().out.splitlines()[0])
    assert hit["session"]["id"] == "20260901T100000-aaaaaa"


def test_a_sub_agent_is_nested_under_its_parent_and_marked_in_search(home, here, capsys) -> None:
    a, _ = sessions(home, here)
    kid = Rollout(home, "20260901T100500-kidkid", str(here), T0 + 300, parent=a.session_id, depth=1)
    kid.turn("ROLE: find the reconnect loop", "In net/retry.py.")
    kid.writer.close()
    assert main(["sessions"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [a.session_id]
    assert main(["sessions", "--children", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["parent_id"], r["depth"]) for r in records] == [
        (a.session_id, None, 0),
        (kid.session_id, a.session_id, 1),
    ]
    assert main(["sessions", "search", "retry.py"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{kid.session_id} (sub-agent of {a.session_id})  ")
