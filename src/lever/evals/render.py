"""The terminal side of a report: a table of a run, and two runs side by side (rich)."""

from __future__ import annotations

from typing import Any

from lever.evals import metrics
from lever.evals.report import RunReport


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _interval(point: Any) -> str:
    return f"{_pct(point.value)} [{_pct(point.low)}, {_pct(point.high)}]"


def print_run(report: RunReport) -> None:
    from rich.table import Table

    k = report.k
    who = report.mode if report.mode != "agent" else _agent_words(report)
    table = Table(title=f"lever eval: {report.suite} ({who.strip()}, k={k})")
    for name in ("task", "n", "c", "pass@1", f"pass@{k}", f"pass^{k}", "failures"):
        table.add_column(name, justify="left" if name in ("task", "failures") else "right")
    for task in report.tasks:
        classes = [a.outcome for a in report.attempts if a.task_id == task.id and not a.passed]
        failures = ", ".join(f"{c} x{classes.count(c)}" for c in sorted(set(classes)))
        table.add_row(
            task.id,
            str(task.n),
            str(task.c),
            _pct(task.pass_at_1),
            _pct(task.pass_at_k),
            _pct(task.pass_hat_k),
            failures,
        )
    console = _console()
    console.print(table)
    summary = report.summary
    if summary.pass_at_k:
        top = len(summary.pass_at_k) - 1
        console.print(f"pass@1  {_interval(summary.pass_at_k[0])}")
        console.print(f"pass@{top + 1}  {_interval(summary.pass_at_k[top])}")
        console.print(f"pass^{top + 1}  {_interval(summary.pass_hat_k[top])}")
    failed = {name: n for name, n in summary.failures.items() if n}
    console.print(
        f"{summary.passed}/{summary.attempts} attempts passed over {summary.tasks} tasks"
        + (f"; failures: {failed}" if failed else "")
        + f"; tokens in/out {summary.input_tokens}/{summary.output_tokens}"
    )


def compare_rows(
    a: RunReport, b: RunReport
) -> tuple[list[tuple[str, float, float]], list[float], list[float]]:
    """(task, a's pass@1, b's pass@1) for the tasks both runs have, and the two value lists."""
    a_tasks = {t.id: t for t in a.tasks}
    rows = [(t.id, a_tasks[t.id].pass_at_1, t.pass_at_1) for t in b.tasks if t.id in a_tasks]
    return rows, [r[1] for r in rows], [r[2] for r in rows]


def print_compare(a: RunReport, b: RunReport, *, seed: int = 0) -> None:
    from rich.table import Table

    rows, a_values, b_values = compare_rows(a, b)
    console = _console()
    if not rows:
        console.print("the two runs have no task in common")
        return
    table = Table(title=f"pass@1 per task: A = {_label(a)}, B = {_label(b)}")
    for name in ("task", "A", "B", "B - A"):
        table.add_column(name, justify="left" if name == "task" else "right")
    for task_id, x, y in rows:
        table.add_row(task_id, _pct(x), _pct(y), f"{100 * (y - x):+.1f}")
    console.print(table)
    diff, low, high, p = metrics.paired_test(a_values, b_values, seed=seed)
    verdict = "significant" if p < 0.05 else "not significant"
    console.print(
        f"pass@1 over {len(rows)} common tasks: A {_pct(metrics.mean(a_values))}, "
        f"B {_pct(metrics.mean(b_values))}; B - A = {100 * diff:+.1f} points "
        f"[{100 * low:+.1f}, {100 * high:+.1f}], paired permutation p = {p:.3f} ({verdict} at 0.05)"
    )


def _agent_words(report: RunReport) -> str:
    """`codex local qwen…`: the agent (when not lever), the provider and the model."""
    agent = report.agent if report.agent and report.agent != "lever" else ""
    if agent.startswith("cmd:"):
        agent = "cmd"
    return " ".join(w for w in (agent, report.provider or "", report.model or "") if w)


def _label(report: RunReport) -> str:
    if report.mode != "agent":
        return f"{report.suite} --{report.mode}"
    return f"{_agent_words(report) or 'agent'} k={report.k}"
