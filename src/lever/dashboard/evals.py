"""Eval reports for the dashboard: the JSON reports of `lever eval run -o` kept under
`$LEVER_HOME/evals/`, read and drawn by the evals package (`read_report`, `render_html`,
`compare_rows`, `paired_test`) — the page shows what `lever eval report` and `compare` show.

Names come from URLs, so a name is a plain file name (`NAME.json`) checked against a pattern
and then confined to the folder (`lever.sandbox.paths.confine`: no `..`, no symlink out).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from lever.sandbox.paths import PathOutsideRoots, confine

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.json$")
#: The report page draws only its own inline CSS and SVG; no script can run in it at all.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


class EvalError(LookupError):
    """No such report, or not a report; the message is for the person."""


def evals_dir(home: Path) -> Path:
    return home / "evals"


def report_path(home: Path, name: str) -> Path:
    folder = evals_dir(home)
    if not NAME.match(name) or ".." in name:
        raise EvalError("no such report")
    try:
        path = confine(name, folder, [folder])
    except (PathOutsideRoots, OSError) as exc:
        raise EvalError("no such report") from exc
    if not path.is_file():
        raise EvalError("no such report")
    return path


def _read(home: Path, name: str) -> Any:
    from lever.evals.report import ReportError, read_report

    try:
        return read_report(report_path(home, name))
    except ReportError as exc:
        raise EvalError(str(exc).replace(str(evals_dir(home)) + "/", "")) from exc


def _row(name: str, report: Any) -> dict[str, Any]:
    s = report.summary
    first = s.pass_at_k[0].value if s.pass_at_k else 0.0
    return {
        "name": name, "suite": report.suite, "mode": report.mode, "provider": report.provider,
        "model": report.model, "k": report.k, "started": report.started,
        "finished": report.finished, "tasks": s.tasks, "attempts": s.attempts,
        "passed": s.passed, "pass_at_1": first, "failures": s.failures,
        "input_tokens": s.input_tokens, "output_tokens": s.output_tokens,
    }  # fmt: skip


def list_reports(home: Path) -> list[dict[str, Any]]:
    """Every readable report, newest first (a file that is not a report is listed with why)."""
    folder = evals_dir(home)
    if not folder.is_dir():
        return []
    rows = []
    for path in folder.iterdir():
        if not NAME.match(path.name) or not path.is_file():
            continue
        try:
            rows.append(_row(path.name, _read(home, path.name)))
        except EvalError as exc:
            rows.append({"name": path.name, "error": str(exc), "started": ""})
    return sorted(rows, key=lambda r: (r["started"], r["name"]), reverse=True)


def report(home: Path, name: str) -> dict[str, Any]:
    r = _read(home, name)
    tasks = [t.model_dump(include={"id", "n", "c", "pass_at_1", "pass_at_k"}) for t in r.tasks]
    return {**_row(name, r), "per_task": tasks, "unconfined": r.unconfined}


def report_html(home: Path, name: str) -> str:
    from lever.evals.html import render_html

    return render_html(_read(home, name))


def compare(home: Path, a: str, b: str) -> dict[str, Any]:
    """pass@1 per common task side by side, and the paired test of `lever eval compare`."""
    from lever.evals import metrics
    from lever.evals.render import compare_rows

    first, second = _read(home, a), _read(home, b)
    rows, a_values, b_values = compare_rows(first, second)
    diff, low, high, p = metrics.paired_test(a_values, b_values, seed=first.seed)
    return {
        "a": _row(a, first),
        "b": _row(b, second),
        "rows": [{"task": t, "a": x, "b": y, "delta": y - x} for t, x, y in rows],
        "mean_a": metrics.mean(a_values) if rows else 0.0,
        "mean_b": metrics.mean(b_values) if rows else 0.0,
        "delta": diff, "low": low, "high": high, "p": p, "significant": bool(rows) and p < 0.05,
        "metrics": metric_rows(first, second),
    }  # fmt: skip


def metric_rows(first: Any, second: Any) -> list[dict[str, Any]] | None:
    """Every metric of `lever eval compare` (pass@1, pass@k, pass^k, tokens, cost, seconds),
    from `lever.evals.compare` when the evals package has it; None with one that does not."""
    try:
        module: Any = importlib.import_module("lever.evals.compare")
    except ImportError:
        return None
    _, rows = module.compare(first, second, seed=first.seed)
    return [
        {"name": r.name, "a": r.a, "b": r.b, "delta": r.diff, "low": r.low, "high": r.high,
         "p": r.p, "significant": bool(r.significant)}
        for r in rows
    ]  # fmt: skip
