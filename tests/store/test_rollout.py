from lever.protocol import ItemAdded, SessionStarted, TextDelta, ToolCall
from lever.store.rollout import RolloutWriter, new_session_id, read_rollout, session_dir


def test_rollout_appends_flushes_and_reads_back(tmp_path) -> None:
    session_id = new_session_id()
    writer = RolloutWriter.create(tmp_path, session_id)
    assert writer.path.parent == session_dir(tmp_path)
    assert writer.path.name == f"rollout-{session_id}.jsonl"
    started = SessionStarted(seq=1, session_id=session_id, cwd="/x", model="m", provider="p")
    writer.append(started)
    # Flushed per event: another reader sees the line before the writer is closed.
    assert writer.path.read_text().count("\n") == 1
    call = ItemAdded(seq=2, item=ToolCall(call_id="c1", name="shell", arguments='{"a":1}'))
    writer.append(call)
    writer.close()
    events = list(read_rollout(writer.path))
    assert events == [started, call]


def test_torn_last_line_is_skipped(tmp_path) -> None:
    writer = RolloutWriter(tmp_path / "r.jsonl")
    writer.append(TextDelta(seq=1, delta="hi"))
    writer.close()
    with (tmp_path / "r.jsonl").open("a") as f:
        f.write('{"seq": 2, "type": "ite')
    assert [e.seq for e in read_rollout(tmp_path / "r.jsonl")] == [1]


def test_artifacts_dir_sits_beside_the_rollout(tmp_path) -> None:
    writer = RolloutWriter.create(tmp_path, "abc")
    assert writer.artifacts_dir == writer.path.parent / "abc"
    writer.close()


def test_a_torn_tail_is_cut_before_appending(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    writer = RolloutWriter(path)
    writer.append(TextDelta(seq=1, delta="a"))
    writer.close()
    with path.open("a") as f:
        f.write('{"seq": 2, "ty')
    again = RolloutWriter(path)
    again.append(TextDelta(seq=2, delta="b"))
    again.close()
    assert [e.seq for e in read_rollout(path)] == [1, 2]


def test_find_and_latest_rollout(tmp_path) -> None:
    import os

    import pytest

    from lever.store.rollout import find_rollout, latest_rollout

    a = RolloutWriter.create(tmp_path, "20260101T000000-aaaaaa")
    b = RolloutWriter.create(tmp_path, "20260101T000000-abbbbb")
    a.close()
    b.close()
    os.utime(a.path, ns=(1, 1))
    assert find_rollout(tmp_path, "20260101T000000-aa") == a.path
    assert latest_rollout(tmp_path) == b.path
    with pytest.raises(FileNotFoundError, match="several"):
        find_rollout(tmp_path, "20260101T000000-a")
    with pytest.raises(FileNotFoundError, match="no session"):
        find_rollout(tmp_path, "zzz")
