"""What the person sees while a fleet runs (stderr): a live table, one line per task, on a
terminal; plain lines, one per finished attempt, otherwise (logs, CI, tests)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from lever.fleet.attempt import AttemptResult, AttemptSpec


def describe(result: AttemptResult) -> str:
    if result.status == "error":
        return f"error: {result.error}"
    verify = "" if result.verify_exit is None else f", verify exit {result.verify_exit}"
    return (
        f"{result.status} ({result.files} files, +{result.added} -{result.removed}, "
        f"{result.tokens} tokens, {result.turns} turns, {result.seconds:.1f} s, "
        f"session {result.reason or '?'}{verify})"
    )


class Progress:
    def __init__(self, task_ids: list[str], k: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.k = k
        self.counts = {task: {"running": 0, "passed": 0, "failed": 0} for task in task_ids}
        self._live: Any = None
        #: What limits the run's speed, shown under the live table (e.g. the local model).
        self.bottleneck = ""
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            self._live = Live(self._table(), console=console, auto_refresh=False, transient=True)

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def note(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            print(f"lever fleet: {text}", file=self.stream, flush=True)

    def preload(self, results: list[AttemptResult]) -> None:
        """Attempts finished before this driver started (`resume`)."""
        for result in results:
            self.counts[result.task]["passed" if result.passed else "failed"] += 1

    def started(self, spec: AttemptSpec) -> None:
        self.counts[spec.task.id]["running"] += 1
        self._refresh()

    def finished(self, result: AttemptResult) -> None:
        counts = self.counts[result.task]
        counts["running"] = max(0, counts["running"] - 1)
        counts["passed" if result.passed else "failed"] += 1
        if self._live is None:
            self.note(f"{result.task} #{result.attempt}: {describe(result)}")
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table(), refresh=True)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, title="lever fleet", title_justify="left")
        if self.bottleneck:
            table.caption, table.caption_justify = self.bottleneck, "left"
        for column in ("task", "running", "passed", "failed", "waiting"):
            table.add_column(column, justify="left" if column == "task" else "right")
        for task, c in self.counts.items():
            waiting = self.k - c["running"] - c["passed"] - c["failed"]
            table.add_row(task, str(c["running"]), str(c["passed"]), str(c["failed"]), str(waiting))
        return table
