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
