"""The run report: a stable JSON schema (pydantic), written by `lever eval run`.

`schema_version` changes only when a field is removed or changes meaning; new optional fields
may appear in the same version. docs/evals.md describes every field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from lever.evals import metrics
from lever.evals.pricing import Price

SCHEMA_VERSION = 1

Outcome = Literal[
    "passed",
    "grade_failed",
    "timeout",
    "agent_error",
    "model_api_error",
    "sandbox_denial",
    "setup_error",
]


class CommandRecord(BaseModel):
    command: str
    exit_code: int | None = None  # None: timed out
    seconds: float = 0.0
    output_tail: str = ""


class AttemptRecord(BaseModel):
    task_id: str
    attempt: int  # 0-based
    outcome: Outcome
    passed: bool
    wall_seconds: float = 0.0
    #: The agent's exit status (`lever exec`), None for --oracle / --empty.
    agent_exit: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    #: Model requests the agent made.
    turns: int = 0
    detail: str = ""
    #: US dollars, when the price of the model's tokens is known (else null).
    cost_usd: float | None = None
    setup: list[CommandRecord] = []
    grade: list[CommandRecord] = []


class Point(BaseModel):
    k: int
    value: float
    low: float
    high: float


class TaskSummary(BaseModel):
    id: str
    tags: list[str] = []
    n: int
    c: int
    pass_at_1: float
    pass_at_k: float  # k = n
    pass_hat_k: float  # k = n


class Summary(BaseModel):
    tasks: int
    attempts: int
    passed: int
    pass_at_k: list[Point]  # k = 1 .. min n
    pass_hat_k: list[Point]
    failures: dict[str, int]
    input_tokens: int = 0
    output_tokens: int = 0
    wall_seconds: float = 0.0
    #: Summed over attempts; null when no attempt has a known cost.
    cost_usd: float | None = None


class RunReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    lever_version: str
    suite: str
    mode: Literal["oracle", "empty", "agent"]
    #: The agent that ran (mode agent): lever, codex, mini-swe-agent or cmd:TEMPLATE.
    agent: str | None = None
    #: The fleet executor lever's attempts ran on: local or ray.
    executor: str = "local"
    provider: str | None = None
    model: str | None = None
    #: The price cost_usd was computed with (null: unknown, no cost given).
    price: Price | None = None
    k: int
    seed: int = metrics.DEFAULT_SEED
    started: str
    finished: str
    #: Why grading ran unconfined, when no sandbox mechanism was available.
    unconfined: str | None = None
    summary: Summary
    tasks: list[TaskSummary]
    attempts: list[AttemptRecord] = Field(default_factory=list)

    def counts(self) -> dict[str, tuple[int, int]]:
        return {t.id: (t.n, t.c) for t in self.tasks}


def summarize(
    attempts: list[AttemptRecord], tags: dict[str, list[str]], seed: int
) -> tuple[Summary, list[TaskSummary]]:
    """Per-task n and c, and the suite's curves, from the attempts."""
    by_task: dict[str, list[AttemptRecord]] = {task_id: [] for task_id in tags}
    for record in attempts:
        by_task.setdefault(record.task_id, []).append(record)
    tasks = []
    for task_id, records in sorted(by_task.items()):
        n, c = len(records), sum(r.passed for r in records)
        if n == 0:
            continue
        tasks.append(
            TaskSummary(
                id=task_id,
                tags=tags.get(task_id, []),
                n=n,
                c=c,
                pass_at_1=metrics.pass_at_k(n, c, 1),
                pass_at_k=metrics.pass_at_k(n, c, n),
                pass_hat_k=metrics.pass_hat_k(n, c, n),
            )
        )
    counts = [(t.n, t.c) for t in tasks]

    def points(metric: str) -> list[Point]:
        curve = metrics.suite_curve(counts, metric, seed=seed)
        return [Point(k=k, value=v, low=lo, high=hi) for k, v, lo, hi in curve]

    failures = {name: 0 for name in metrics.FAILURE_CLASSES}
    for record in attempts:
        if not record.passed:
            failures[record.outcome] = failures.get(record.outcome, 0) + 1
    summary = Summary(
        tasks=len(tasks),
        attempts=len(attempts),
        passed=sum(r.passed for r in attempts),
        pass_at_k=points("pass@k"),
        pass_hat_k=points("pass^k"),
        failures=failures,
        input_tokens=sum(r.input_tokens for r in attempts),
        output_tokens=sum(r.output_tokens for r in attempts),
        wall_seconds=sum(r.wall_seconds for r in attempts),
        cost_usd=_total_cost(attempts),
    )
    return summary, tasks


def _total_cost(attempts: list[AttemptRecord]) -> float | None:
    costs = [r.cost_usd for r in attempts if r.cost_usd is not None]
    return round(sum(costs), 6) if costs else None


class ReportError(ValueError):
    pass


def read_report(path: Path) -> RunReport:
    from pydantic import ValidationError

    try:
        return RunReport.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except ValidationError as e:
        error = e.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise ReportError(f"{path}: not a lever eval report ({key}: {error['msg']})") from None


def write_report(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def schema_text() -> str:
    """The JSON Schema of a report, as checked in at docs/schema/eval-report.schema.json."""
    import json

    return json.dumps(RunReport.model_json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
