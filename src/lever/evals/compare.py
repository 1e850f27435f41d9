"""Two runs side by side: per metric, the difference B - A over the tasks both runs have, a
bootstrap interval of it, and a paired sign-flip permutation test of "no difference".

Every metric is first a value per task (pass@1 = c/n; pass@k and pass^k at the k both runs
reach; tokens, cost and wall time per attempt), so the pairing is by task: the test asks
whether B beats A on the same tasks more than chance sign flips of the per-task differences
would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lever.evals import metrics
from lever.evals.report import AttemptRecord, RunReport

#: The significance level the verdicts use.
ALPHA = 0.05


@dataclass(frozen=True)
class MetricDiff:
    name: str
    a: float
    b: float
    diff: float  # b - a
    low: float
    high: float
    p: float

    @property
    def significant(self) -> bool:
        return self.p < ALPHA


def common_tasks(a: RunReport, b: RunReport) -> list[str]:
    b_ids = {t.id for t in b.tasks}
    return [t.id for t in a.tasks if t.id in b_ids]


def _per_attempt(
    report: RunReport, ids: list[str], value: Callable[[AttemptRecord], float | None]
) -> list[float] | None:
    """The mean of `value` over each task's attempts; None if some attempt has no value."""
    out = []
    for task_id in ids:
        values = [value(r) for r in report.attempts if r.task_id == task_id]
        if not values or any(v is None for v in values):
            return None
        out.append(sum(v for v in values if v is not None) / len(values))
    return out


def per_task_values(report: RunReport, ids: list[str], k: int) -> dict[str, list[float]]:
    counts = {t.id: (t.n, t.c) for t in report.tasks}
    values = {
        "pass@1": [metrics.pass_at_k(*counts[i], 1) for i in ids],
        f"pass@{k}": [metrics.pass_at_k(*counts[i], k) for i in ids],
        f"pass^{k}": [metrics.pass_hat_k(*counts[i], k) for i in ids],
    }
    per_attempt: dict[str, Callable[[AttemptRecord], float | None]] = {
        "tokens": lambda r: r.input_tokens + r.output_tokens,
        "cost ($)": lambda r: r.cost_usd,
        "seconds": lambda r: r.wall_seconds,
    }
    for name, value in per_attempt.items():
        found = _per_attempt(report, ids, value)
        if found is not None:
            values[name] = found
    return values


def compare(a: RunReport, b: RunReport, *, seed: int = 0) -> tuple[list[str], list[MetricDiff]]:
    """The common tasks and one row per metric both runs have (pass@1 first)."""
    ids = common_tasks(a, b)
    if not ids:
        return [], []
    counts = {t.id: t.n for t in a.tasks}
    k = min(min(counts[i] for i in ids), min(t.n for t in b.tasks if t.id in ids))
    a_values, b_values = per_task_values(a, ids, k), per_task_values(b, ids, k)
    rows = []
    for name, xs in a_values.items():
        ys = b_values.get(name)
        if ys is None:
            continue
        diff, low, high, p = metrics.paired_test(xs, ys, seed=seed)
        rows.append(MetricDiff(name, metrics.mean(xs), metrics.mean(ys), diff, low, high, p))
    return ids, rows
