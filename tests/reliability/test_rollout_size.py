"""What one event adds to the session files is bounded, and a full disk stops a session cleanly:
the rollout stays a sequence of whole events, closed by its end record, and resumable."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lever.protocol import SessionEnded
from lever.store import rollout_caps
from lever.store.rollout import read_rollout
from lever.testing.fake_model import FakeModelServer

from .conftest import FAST, lever_bin, rollouts, run_exec, run_lever

#: The answer fits the context: the resume sends it back instead of compacting it.
WIDE = ("-c", "context_window=10000000")
BIG = "".join(f"line {i} of a very long answer\n" for i in range(150_000))  # ~4.5 MB


def session_bytes(env: dict[str, str]) -> int:
    sessions = Path(env["LEVER_HOME"]) / "sessions"
    return sum(p.stat().st_size for p in sessions.rglob("*") if p.is_file())


def test_huge_model_answer_is_stored_beside_the_rollout(env, work) -> None:
    with FakeModelServer([{"text": BIG}, {"text": "again"}]) as server:
        run = run_exec(server.base_url, env, work)
        assert run.code == 0, run.stderr
        (path,) = rollouts(env)
        longest = max(len(line) for line in path.read_bytes().split(b"\n"))
        assert longest <= rollout_caps.MAX_LINE_BYTES
        assert rollout_caps.MARK.encode() in path.read_bytes()
        # The reader puts the whole answer back: nothing of it is lost.
        assert any(getattr(e, "last_message", None) == BIG for e in read_rollout(path))
        result = run_lever("resume", "--last", *FAST, *WIDE, "more", env=env, cwd=work)
        assert result.returncode == 0, result.stderr
        # The resumed request carries the whole answer, rebuilt from the stored event.
        assert json.dumps(BIG)[1:-1] in json.dumps(server.bodies()[-1])


def test_without_the_stored_event_the_shortened_one_is_used(env, work) -> None:
    with FakeModelServer([{"text": BIG}, {"text": "again"}]) as server:
        run_exec(server.base_url, env, work)
        (path,) = rollouts(env)
        shutil.rmtree(path.with_name(path.stem.removeprefix("rollout-")) / "events")
        events = list(read_rollout(path))
        answer = next(e.last_message for e in events if e.type == "turn_finished")
        assert rollout_caps.MARK in answer and "characters left out here" in answer
        assert answer.startswith(BIG[:1000]) and answer.endswith(BIG[-1000:])
        result = run_lever("resume", "--last", *FAST, *WIDE, "more", env=env, cwd=work)
    assert result.returncode == 0, result.stderr


def test_stored_events_are_cut_past_their_own_cap(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(rollout_caps, "MAX_LINE_BYTES", 10_000)
    monkeypatch.setattr(rollout_caps, "MAX_STORED_BYTES", 100_000)
    line = json.dumps({"type": "x", "seq": 7, "text": "a" * 500_000, "more": ["b" * 300_000]})
    short = rollout_caps.cap_line(line, 7, tmp_path)
    stored = rollout_caps.stored_path(tmp_path, 7).read_text()
    assert len(short) <= 10_000 and len(stored) <= 100_000
    assert json.loads(short)["seq"] == json.loads(stored)["seq"] == 7
    assert rollout_caps.cap_line('{"seq": 1}', 1, tmp_path) == '{"seq": 1}'


def check_stopped_for_full_disk(env: dict[str, str], code: int, stderr: str) -> None:
    assert code == 3, stderr
    assert "Traceback" not in stderr
    (path,) = rollouts(env)
    events = list(read_rollout(path))  # parses: every line whole
    assert isinstance(events[-1], SessionEnded)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and seqs[: len(seqs) - 1] == list(range(1, len(seqs)))


def test_file_size_limit_mid_session_stops_it_with_a_clear_error(env, work) -> None:
    # RLIMIT_FSIZE makes the write of a big line fail half way (EFBIG): works without root.
    with FakeModelServer([{"text": "x" * 400_000}]) as server:
        args = [lever_bin(), "exec", "--base-url", server.base_url, "--model", "m", *FAST, "go"]
        limit = (
            "import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        process = subprocess.run(
            [sys.executable, "-c", limit, *args], env=env, cwd=work, capture_output=True,
            text=True, timeout=60, start_new_session=True,
        )  # fmt: skip
    check_stopped_for_full_disk(env, process.returncode, process.stderr)
    assert "cannot write the rollout" in process.stderr


@contextlib.contextmanager
def tiny_filesystem(where: Path, size: str):
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): the RLIMIT_FSIZE case covers")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_stops_the_session_with_a_clear_error(env, work, tmp_path) -> None:
    with tiny_filesystem(tmp_path / "small", "1m") as small:
        home = small / "lever-home"
        home.mkdir()
        env = {**env, "LEVER_HOME": str(home)}
        (small / "filler").write_bytes(b"\0" * 500_000)
        with FakeModelServer([{"text": "y" * 300_000}]) as server:
            result = run_lever(
                "exec", "--base-url", server.base_url, "--model", "m", *FAST, "go",
                env=env, cwd=work,
            )  # fmt: skip
        check_stopped_for_full_disk(env, result.returncode, result.stderr)
        assert "the disk is full" in result.stderr
