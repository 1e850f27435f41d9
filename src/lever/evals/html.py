"""A self-contained HTML page of a run: inline CSS and SVG, no script, no external asset.

Plots: pass@k and pass^k over k with their bootstrap bands, cost against success per task
(dollars per attempt where the price is known, else tokens per attempt), and a heat map of tasks
by attempts (green passed, red the failure class). It opens offline in any browser.
"""

from __future__ import annotations

from html import escape

from lever.evals import metrics
from lever.evals.report import AttemptRecord, Point, RunReport

_COLOURS = {
    "passed": "#2e9d4f",
    "grade_failed": "#d64541",
    "timeout": "#e08e0b",
    "agent_error": "#8e44ad",
    "model_api_error": "#2c6fbb",
    "sandbox_denial": "#555555",
    "setup_error": "#a0522d",
}
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 1em; }
.swatch { width: 12px; height: 12px; display: inline-block; vertical-align: middle; }
"""
W, H, PAD = 520, 300, 46


def _xy(k: int, value: float, kmax: int) -> tuple[float, float]:
    x = PAD + (W - 2 * PAD) * ((k - 1) / max(1, kmax - 1))
    y = H - PAD - (H - 2 * PAD) * value
    return round(x, 1), round(y, 1)


def _series(points: list[Point], kmax: int, colour: str, name: str) -> str:
    line = " ".join(f"{x},{y}" for x, y in (_xy(p.k, p.value, kmax) for p in points))
    upper = [_xy(p.k, p.high, kmax) for p in points]
    lower = [_xy(p.k, p.low, kmax) for p in reversed(points)]
    band = " ".join(f"{x},{y}" for x, y in upper + lower)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{name} k={p.k}: '
        f"{p.value:.3f} [{p.low:.3f}, {p.high:.3f}]</title></circle>"
        for p, (x, y) in zip(points, (_xy(p.k, p.value, kmax) for p in points), strict=True)
    )
    return (
        f'<polygon points="{band}" fill="{colour}" fill-opacity="0.15" stroke="none"/>'
        f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}'
    )


def curves_svg(report: RunReport) -> str:
    """pass@k (rises with k) and pass^k (falls with k) on one chart, 0..1 on the y axis."""
    at, hat = report.summary.pass_at_k, report.summary.pass_hat_k
    kmax = len(at)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">']
    parts.append("<title>pass@k and pass^k over k</title>")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = _xy(1, tick, kmax)
        parts.append(
            f'<line x1="{PAD}" x2="{W - PAD}" y1="{y}" y2="{y}" stroke="#eee"/>'
            f'<text x="{PAD - 6}" y="{y + 4}" text-anchor="end" font-size="11">{tick:.2f}</text>'
        )
    for k in range(1, kmax + 1):
        x, _ = _xy(k, 0.0, kmax)
        parts.append(
            f'<text x="{x}" y="{H - PAD + 16}" text-anchor="middle" font-size="11">{k}</text>'
        )
    parts.append(f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">k</text>')
    if at:
        parts.append(_series(at, kmax, "#2c6fbb", "pass@k"))
        parts.append(_series(hat, kmax, "#d64541", "pass^k"))
    parts.append(
        f'<text x="{W - PAD}" y="{PAD - 20}" text-anchor="end" font-size="12">'
        '<tspan fill="#2c6fbb">— pass@k</tspan>  <tspan fill="#d64541">— pass^k</tspan></text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(report: RunReport) -> str:
    """One row per task, one cell per attempt, coloured by outcome."""
    cell, label = 18, 200
    rows = [t.id for t in report.tasks]
    cols = max((t.n for t in report.tasks), default=0)
    width, height = label + cell * cols + 10, cell * len(rows) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    parts.append("<title>outcome of every attempt</title>")
    for col in range(cols):
        x = label + col * cell + cell / 2
        parts.append(f'<text x="{x}" y="12" text-anchor="middle" font-size="10">{col}</text>')
    index = {task_id: row for row, task_id in enumerate(rows)}
    for row, task_id in enumerate(rows):
        y = 18 + row * cell
        parts.append(
            f'<text x="{label - 6}" y="{y + 13}" text-anchor="end" font-size="11">'
            f"{escape(task_id)}</text>"
        )
    for attempt in report.attempts:
        if attempt.task_id not in index:
            continue
        x, y = label + attempt.attempt * cell, 18 + index[attempt.task_id] * cell
        colour = _COLOURS.get(attempt.outcome, "#999")
        parts.append(
            f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{colour}">'
            f"<title>{escape(attempt.task_id)} #{attempt.attempt}: {attempt.outcome}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _spend(report: RunReport) -> tuple[str, dict[str, float]]:
    """Per task, the mean cost per attempt in dollars if every attempt has one, else tokens."""
    by_task: dict[str, list[AttemptRecord]] = {}
    for attempt in report.attempts:
        by_task.setdefault(attempt.task_id, []).append(attempt)
    dollars = all(a.cost_usd is not None for a in report.attempts) and bool(report.attempts)
    spend = {}
    for task_id, records in by_task.items():
        values = [
            (a.cost_usd or 0.0) if dollars else a.input_tokens + a.output_tokens for a in records
        ]
        spend[task_id] = sum(values) / len(values)
    return ("$ per attempt" if dollars else "tokens per attempt"), spend


def cost_svg(report: RunReport) -> str:
    """One dot per task: what an attempt spent on average (x) against its pass@1 (y)."""
    unit, spend = _spend(report)
    top = max(spend.values(), default=0.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">']
    parts.append(f"<title>pass@1 against {unit}, per task</title>")
    for tick in (0.0, 0.5, 1.0):
        y = H - PAD - (H - 2 * PAD) * tick
        parts.append(
            f'<line x1="{PAD}" x2="{W - PAD}" y1="{y}" y2="{y}" stroke="#eee"/>'
            f'<text x="{PAD - 6}" y="{y + 4}" text-anchor="end" font-size="11">{tick:.1f}</text>'
        )
        x = PAD + (W - 2 * PAD) * tick
        parts.append(
            f'<text x="{x}" y="{H - PAD + 16}" text-anchor="middle" font-size="11">'
            f"{top * tick:.4g}</text>"
        )
    parts.append(
        f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">{unit}</text>'
        f'<text x="12" y="{PAD - 20}" font-size="12">pass@1</text>'
    )
    for task in report.tasks:
        x = PAD + (W - 2 * PAD) * spend.get(task.id, 0.0) / top
        y = H - PAD - (H - 2 * PAD) * task.pass_at_1
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2e9d4f" fill-opacity="0.7">'
            f"<title>{escape(task.id)}: pass@1 {task.pass_at_1:.3f}, "
            f"{spend.get(task.id, 0.0):.4g} {unit}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(report: RunReport) -> str:
    k = report.k
    head = "".join(f"<th>{h}</th>" for h in ("task", "n", "c", "pass@1", f"pass@{k}", f"pass^{k}"))
    body = "".join(
        f"<tr><td>{escape(t.id)}</td><td>{t.n}</td><td>{t.c}</td><td>{t.pass_at_1:.3f}</td>"
        f"<td>{t.pass_at_k:.3f}</td><td>{t.pass_hat_k:.3f}</td></tr>"
        for t in report.tasks
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _headline(report: RunReport) -> str:
    s = report.summary
    lines = [f"{s.passed}/{s.attempts} attempts passed over {s.tasks} tasks."]
    if s.pass_at_k:
        top = s.pass_at_k[-1].k
        for name, point in (
            ("pass@1", s.pass_at_k[0]),
            (f"pass@{top}", s.pass_at_k[-1]),
            (f"pass^{top}", s.pass_hat_k[-1]),
        ):
            lines.append(f"{name} = {point.value:.3f} (95% CI {point.low:.3f} to {point.high:.3f})")
        low, high = metrics.wilson_interval(s.passed, s.attempts)
        lines.insert(2, f"pass@1 over attempts: 95% CI {low:.3f} to {high:.3f} (Wilson)")
    spent = f"tokens in/out {s.input_tokens}/{s.output_tokens}"
    if s.cost_usd is not None:
        spent += f", cost ${s.cost_usd:.4f}"
    lines.append(spent + f", {s.wall_seconds:.0f} s of attempts")
    return "<br>".join(escape(line) for line in lines)


def render_html(report: RunReport) -> str:
    who: str = report.mode
    if report.mode == "agent":
        who = f"{report.agent or 'lever'}: {report.provider} / {report.model}"
    title = escape(f"lever eval: {report.suite} ({who}, k={report.k})")
    legend = "".join(
        f'<span><i class="swatch" style="background:{c}"></i> {name}</span>'
        for name, c in _COLOURS.items()
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f"<p>{_headline(report)}</p><p>lever {escape(report.lever_version)}, "
        f"{escape(report.started)} to {escape(report.finished)}, seed {report.seed}</p>"
        f"<h2>pass@k and pass^k</h2>{curves_svg(report)}"
        f"<h2>Cost and success</h2>{cost_svg(report)}"
        f'<h2>Attempts</h2><p class="legend">{legend}</p>{heatmap_svg(report)}'
        f"<h2>Tasks</h2>{_table(report)}</body></html>\n"
    )
