"""A fleet run as an event stream: `$LEVER_HOME/fleets/RUN/events.jsonl`.

The driver appends one JSON object a line, each with a sequence number `seq` (1, 2, … with no
gaps, continued across `lever fleet resume`), `time` (Unix seconds) and `type`:

- `run_started`: run, tasks (ids), k, attempts (total), executor, concurrency, provider, model,
  resumed (false; true when `lever fleet resume` continues the run), done (attempts already
  finished, so a reader joining a resumed run knows what is left).
- `attempt_started`: task, attempt.
- `attempt_finished`: task, attempt, result (the attempt's entry of `results.json`).
- `selection`: chosen (task id -> attempt number or null).
- `run_finished`: status (finished, interrupted, failed), passed (tasks with a chosen attempt),
  results (attempts with a result).

Readers (the dashboard's live grid) use `read` (everything after a sequence number), `follow`
(the same, waiting for more until the run finishes) and `Grid` (the state of every attempt).
A line being written when a reader looks is incomplete: readers skip a last line without its
newline and see it on their next read. Writes go through one file object and are flushed per
event, so a crash loses at most the event being written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE = "events.jsonl"
TYPES = ("run_started", "attempt_started", "attempt_finished", "selection", "run_finished")


@dataclass(frozen=True)
class Event:
    seq: int
    time: float
    type: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, line: dict[str, Any]) -> Event:
        data = {k: v for k, v in line.items() if k not in ("seq", "time", "type")}
        return cls(int(line["seq"]), float(line["time"]), str(line["type"]), data)


class EventLog:
    """The driver's writer. Reopening a run's log (resume) continues its numbering; a torn last
    line (the driver was killed while writing it) is cut off first."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE
        complete = _complete_bytes(self.path)
        if self.path.exists() and complete < self.path.stat().st_size:
            os.truncate(self.path, complete)
        last = read(folder)
        self.seq = last[-1].seq if last else 0
        self._file = self.path.open("a", encoding="utf-8")

    def emit(self, type_: str, **data: Any) -> Event:
        assert type_ in TYPES, type_
        self.seq += 1
        event = Event(self.seq, round(time.time(), 3), type_, data)
        line = {"seq": event.seq, "time": event.time, "type": type_, **data}
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        return event

    def close(self) -> None:
        self._file.close()


def _complete_bytes(path: Path) -> int:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0
    return raw.rfind(b"\n") + 1


def read(folder: Path, after: int = 0) -> list[Event]:
    """The run's events with `seq` > `after`, complete lines only (none if there is no log)."""
    path = folder / FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    events = []
    for line in raw[: raw.rfind(b"\n") + 1].splitlines():
        if line.strip():
            event = Event.from_json(json.loads(line))
            if event.seq > after:
                events.append(event)
    return events


def follow(folder: Path, after: int = 0, poll: float = 0.2) -> Iterator[Event]:
    """Every event after `after`, as the driver writes them, until `run_finished` (a run whose
    driver died never finishes: the caller stops when it has seen enough)."""
    while True:
        for event in read(folder, after):
            after = event.seq
            yield event
            if event.type == "run_finished":
                return
        time.sleep(poll)


@dataclass
class Grid:
    """What a live grid shows, rebuilt from events: every attempt's state (`waiting`,
    `running`, or its result's status) and the run's."""

    run: str = ""
    status: str = "waiting"
    k: int = 0
    tasks: list[str] = field(default_factory=list)
    #: (task, attempt) -> waiting | running | passed | failed | error
    cells: dict[tuple[str, int], str] = field(default_factory=dict)
    results: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    chosen: dict[str, int | None] = field(default_factory=dict)
    seq: int = 0

    def apply(self, event: Event) -> None:
        self.seq = event.seq
        d = event.data
        if event.type == "run_started":
            self.run, self.k, self.tasks, self.status = d["run"], d["k"], d["tasks"], "running"
            for task in self.tasks:
                for n in range(1, self.k + 1):
                    if (task, n) not in self.results:
                        self.cells[(task, n)] = "waiting"
        elif event.type == "attempt_started":
            self.cells[(d["task"], d["attempt"])] = "running"
        elif event.type == "attempt_finished":
            key = (d["task"], d["attempt"])
            self.results[key] = d["result"]
            self.cells[key] = d["result"]["status"]
        elif event.type == "selection":
            self.chosen = d["chosen"]
        elif event.type == "run_finished":
            self.status = d["status"]

    @classmethod
    def of(cls, folder: Path) -> Grid:
        grid = cls()
        for event in read(folder):
            grid.apply(event)
        return grid
