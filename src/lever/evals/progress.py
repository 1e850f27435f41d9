"""What the person sees while a suite runs (stderr): a progress bar on a terminal — attempts
done of tasks x k, passing so far, ETA — and one plain line per finished attempt otherwise
(logs, CI, tests)."""

from __future__ import annotations

import time
from typing import Any, TextIO

from lever.evals.report import AttemptRecord


def eta_seconds(elapsed: float, done: int, total: int) -> float | None:
    """Time left if the attempts still to come take as long as the ones done (None: no data)."""
    if done == 0:
        return None
    return elapsed / done * (total - done)


class Progress:
    def __init__(self, total: int, stream: TextIO | None, *, bar: bool | None = None) -> None:
        self.total, self.stream = total, stream
        self.done = self.passed = 0
        self.start = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        if stream is not None and (stream.isatty() if bar is None else bar):
            self._make_bar(stream)

    def _make_bar(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        console = Console(file=stream, force_terminal=True)
        self._bar = Bar(
            TextColumn("lever eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("attempts, passing {task.fields[passing]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("attempts", total=self.total, passing=0)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        elif self.stream is not None:
            self.stream.write(f"lever eval: {text}\n")
            self.stream.flush()

    def __call__(self, record: AttemptRecord) -> None:
        self.done += 1
        self.passed += record.passed
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, passing=self.passed, refresh=True)
            return
        if self.stream is None:
            return
        eta = eta_seconds(time.monotonic() - self.start, self.done, self.total) or 0.0
        mark = "pass" if record.passed else record.outcome
        self.stream.write(
            f"[{self.done}/{self.total}] {record.task_id} #{record.attempt}: {mark}"
            f"  (passing {self.passed}, eta {eta:.0f}s)\n"
        )
        self.stream.flush()
