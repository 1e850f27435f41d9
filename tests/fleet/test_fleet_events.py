"""The event stream's writer and readers (`lever.fleet.events`): numbering across reopenings,
a torn last line, a reader following a live writer, and the grid it builds."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from lever.fleet import events


def test_numbering_continues_and_a_torn_line_is_cut(tmp_path: Path) -> None:
    log = events.EventLog(tmp_path)
    log.emit("run_started", run="r", tasks=["a"], k=1, attempts=1, resumed=False, done=0)
    log.emit("attempt_started", task="a", attempt=1)
    log.close()
    # The driver was killed in the middle of its third line.
    with (tmp_path / events.FILE).open("a") as f:
        f.write('{"seq":3,"time":1,"type":"attempt_fin')
    assert [e.seq for e in events.read(tmp_path)] == [1, 2]  # readers skip the torn line
    again = events.EventLog(tmp_path)
    again.emit("run_started", run="r", tasks=["a"], k=1, attempts=1, resumed=True, done=0)
    again.close()
    lines = (tmp_path / events.FILE).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    assert [e.type for e in events.read(tmp_path, after=1)] == ["attempt_started", "run_started"]


def test_follow_sees_a_live_writer_until_the_run_finishes(tmp_path: Path) -> None:
    log = events.EventLog(tmp_path)
    log.emit("run_started", run="r", tasks=["a", "b"], k=2, attempts=4, resumed=False, done=0)
    result = {"status": "failed", "task": "a", "attempt": 1}

    def write() -> None:
        time.sleep(0.2)
        log.emit("attempt_started", task="a", attempt=1)
        log.emit("attempt_started", task="b", attempt=2)
        time.sleep(0.2)
        log.emit("attempt_finished", task="a", attempt=1, result=result)
        log.emit("selection", chosen={"a": None, "b": None})
        log.emit("run_finished", status="interrupted", passed=0, results=1)

    writer = threading.Thread(target=write)
    writer.start()
    grid = events.Grid()
    seen = []
    for event in events.follow(tmp_path, poll=0.05):
        grid.apply(event)
        seen.append(event.type)
    writer.join()
    log.close()
    assert seen == ["run_started", "attempt_started", "attempt_started", "attempt_finished",
                    "selection", "run_finished"]  # fmt: skip
    assert grid.cells == {("a", 1): "failed", ("a", 2): "waiting", ("b", 1): "waiting",
                          ("b", 2): "running"}  # fmt: skip
    assert grid.status == "interrupted" and grid.results[("a", 1)] == result and grid.seq == 6
    assert events.Grid.of(tmp_path) == grid


def test_no_log_is_no_events(tmp_path: Path) -> None:
    assert events.read(tmp_path) == [] and events.Grid.of(tmp_path).status == "waiting"
