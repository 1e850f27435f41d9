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
        low, high = metrics.wilson_interval(summary.passed, summary.attempts)
        console.print(
            f"pass@1  {_interval(summary.pass_at_k[0])} over tasks; over attempts "
            f"{summary.passed}/{summary.attempts} [{_pct(low)}, {_pct(high)}] (Wilson)"
        )
        console.print(f"pass@{top + 1}  {_interval(summary.pass_at_k[top])}")
        console.print(f"pass^{top + 1}  {_interval(summary.pass_hat_k[top])}")
    failed = {name: n for name, n in summary.failures.items() if n}
    console.print(
        f"{summary.passed}/{summary.attempts} attempts passed over {summary.tasks} tasks"
        + (f"; failures: {failed}" if failed else "")
        + f"; tokens in/out {summary.input_tokens}/{summary.output_tokens}"
        + (f"; cost ${summary.cost_usd:.4f}" if summary.cost_usd is not None else "")
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

    from lever.evals.compare import compare

    rows, _, _ = compare_rows(a, b)
    console = _console()
    ids, diffs = compare(a, b, seed=seed)
    if not ids:
        console.print("the two runs have no task in common")
        return
    table = Table(title=f"pass@1 per task: A = {_label(a)}, B = {_label(b)}")
    for name in ("task", "A", "B", "B - A"):
        table.add_column(name, justify="left" if name == "task" else "right")
    for task_id, x, y in rows:
        table.add_row(task_id, _pct(x), _pct(y), f"{100 * (y - x):+.1f}")
    console.print(table)
    metrics_table = Table(
        title=f"over the {len(ids)} tasks both runs have (tokens, cost, seconds: per attempt)"
    )
    for name in ("metric", "A", "B", "B - A", "95% interval", "p", ""):
        metrics_table.add_column(name, justify="left" if name in ("metric", "") else "right")
    for d in diffs:
        show = _pct if d.name.startswith("pass") else _number
        points = d.name.startswith("pass")
        metrics_table.add_row(
            d.name,
            show(d.a),
            show(d.b),
            _signed(d.diff, points),
            f"[{_signed(d.low, points)}, {_signed(d.high, points)}]",
            f"{d.p:.3f}",
            "significant" if d.significant else "",
        )
    console.print(metrics_table)
    first = diffs[0]
    verdict = "significant" if first.significant else "not significant"
    console.print(
        f"pass@1 over {len(ids)} common tasks: A {_pct(first.a)}, B {_pct(first.b)}; "
        f"B - A = {100 * first.diff:+.1f} points [{100 * first.low:+.1f}, {100 * first.high:+.1f}]"
        f", paired permutation p = {first.p:.3f} ({verdict} at 0.05)"
    )
    console.print(
        "test: paired sign-flip permutation over tasks (10,000 permutations, two-sided); "
        "interval: percentile bootstrap over tasks (2,000 resamples); seed "
        f"{seed}; pass differences in percentage points"
    )


def _number(value: float) -> str:
    return f"{value:.4g}"


def _signed(value: float, points: bool) -> str:
    return f"{100 * value:+.1f}" if points else f"{value:+.4g}"


def _agent_words(report: RunReport) -> str:
    """`codex local qwen…`: the agent, the provider and the model."""
    agent = report.agent or "lever"
    if agent.startswith("cmd:"):
        agent = "cmd"
    return " ".join(w for w in (agent, report.provider or "", report.model or "") if w)


def _label(report: RunReport) -> str:
    if report.mode != "agent":
        return f"{report.suite} --{report.mode}"
    return f"{_agent_words(report) or 'agent'} k={report.k}"
