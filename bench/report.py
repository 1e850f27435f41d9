"""The Markdown tables of a benchmark run (bench/results/latest.json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PEERS = ("codex", "mini-swe-agent")


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        if "error" in data or "unavailable" in data:
            return data
        data = data.get(key)
    return data


def _why(value: Any) -> str | None:
    if isinstance(value, dict) and ("error" in value or "unavailable" in value):
        return f"n/a ({value.get('unavailable') or value.get('error')})"
    return None if value is not None else "n/a"


def ms_spread(value: Any) -> str:
    why = _why(value)
    return why or f"{value['median']:.0f} ms ({value['min']:.0f}-{value['max']:.0f})"


def _number(fmt: str) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        why = _why(value)
        return why or fmt.format(value)

    return show


def _ratio(lever: Any, other: Any) -> str:
    if isinstance(lever, dict):
        lever, other = lever.get("median"), (other or {}).get("median")
    if not isinstance(lever, int | float) or not isinstance(other, int | float) or not other:
        return "-"
    return f"{lever / other:.2f}"


ROWS: list[tuple[str, tuple[str, ...], Callable[[Any], str], str]] = [
    ("`--version` cold start, median (min-max)", ("version_start",), ms_spread, "< 80 ms"),
    ("`--help` cold start", ("help_start",), ms_spread, "< 80 ms"),
    ("time to the first model request (`exec`)", ("first_request",), ms_spread, ""),
    ("one-step run, whole process", ("steps", "one_step_run_s"), _number("{:.2f} s"), ""),
    ("wall per step (server-side), N = 20", ("steps", "per_step", "20", "wall_ms"),
     _number("{:.1f} ms"), ""),
    ("overhead per step, N = 20", ("steps", "per_step", "20", "overhead_ms"),
     _number("{:.1f} ms"), ""),
    ("overhead per step, N = 200", ("steps", "per_step", "200", "overhead_ms"),
     _number("{:.1f} ms"), "< 5 ms"),
    ("CPU per step, N = 200", ("steps", "per_step", "200", "cpu_ms"), _number("{:.1f} ms"), ""),
    ("the step command run directly (floor)", ("steps", "command", "wall_ms"),
     _number("{:.1f} ms"), ""),
    ("model requests, N = 200", ("steps", "bytes", "requests"), _number("{}"), ""),
    ("request 1", ("steps", "bytes", "request_bytes", "1"), _number("{:,} B"), ""),
    ("request 10", ("steps", "bytes", "request_bytes", "10"), _number("{:,} B"), ""),
    ("request 100", ("steps", "bytes", "request_bytes", "100"), _number("{:,} B"), ""),
    ("bytes sent over N = 200", ("steps", "bytes", "total_bytes"), _number("{:,} B"), ""),
    ("shared-prefix fraction (mean)", ("steps", "bytes", "prefix_fraction"),
     _number("{:.4f}"), "≥ 0.99"),
    ("shared-prefix fraction (worst pair)", ("steps", "bytes", "prefix_fraction_min"),
     _number("{:.4f}"), ""),
    ("pairs whose conversation only grew", ("steps", "bytes", "history_append_only"),
     _number("{:.0%}"), ""),
    ("peak RSS, N = 200 (whole process)", ("steps", "max_rss_mb"), _number("{:.0f} MB"),
     "< 80 MB"),
]  # fmt: skip


def agents_table(results: dict[str, Any]) -> list[str]:
    agents = results["agents"]
    names = list(agents)
    peers = [n for n in names if n != "lever"]
    head = ["measure", *[_label(n, agents[n]) for n in names]]
    head += [f"lever/{p}" for p in peers if "lever" in agents] + ["budget"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for title, path, show, budget in ROWS:
        values = {n: _get(agents[n], *path) for n in names}
        cells = [title, *[show(values[n]) for n in names]]
        if "lever" in agents:
            cells += [_ratio(values["lever"], values[p]) for p in peers]
        lines.append("| " + " | ".join([*cells, budget]) + " |")
    return lines


def _label(name: str, data: dict[str, Any]) -> str:
    version = data.get("version") or ""
    return f"{name} {version}".strip()


def lever_tables(extra: dict[str, Any]) -> list[str]:
    lines = ["", "| lever only | value |", "| --- | --- |"]
    labels = (
        ("one session, 20 steps, in-process", "one_session"),
        ("100 concurrent sessions x 20 steps, one process", "fleet_100"),
    )
    for label, key in labels:
        value = extra.get(key)
        why = _why(value)
        value = value or {}
        text = why or (
            f"{value['max_rss_mb']:.0f} MB peak RSS, {value['errors']} errors, "
            f"{value['seconds']:.1f} s"
        )
        lines.append(f"| {label} | {text} |")
    sandbox = extra.get("sandbox") or {}
    for mechanism in ("none", "bwrap", "landlock"):
        value = sandbox.get(mechanism)
        why = _why(value)
        got: dict[str, Any] = value or {}
        text = why or f"{got['median_ms']:.1f} ms per `true` (x{got['ratio']:.1f})"
        lines.append(f"| sandbox {mechanism} | {text} |")
    stream = extra.get("dashboard_stream")
    if stream is not None:
        why = _why(stream)
        got = stream or {}
        text = why or (
            f"{got['events_delivered']:,} delivered over {got['connections']} streams in "
            f"{got['seconds']:.0f} s: {got['dropped']} dropped, {got['duplicated']} duplicated; "
            f"latency p50/p95 {got['latency_ms_p50']:.0f}/{got['latency_ms_p95']:.0f} ms "
            f"(all connected in {got.get('connect_s', '?')} s); "
            f"server {got['server_cpu_s']:.1f} CPU s, {got['server_peak_rss_mb']:.0f} MB; "
            f"load average {got.get('load_average', '?')}"
        )
        who = f"{got.get('sessions', 50)} sessions to {got.get('pages', 5)} pages"
        lines.append(f"| dashboard: {who} | {text} |")
    if isinstance(extra.get("soak"), str):
        lines += ["", "Soak (10,000 steps):", "", extra["soak"].strip()]
    elif extra.get("soak") is not None:
        lines.append(f"| soak | {_why(extra['soak'])} |")
    return lines


def render(results: dict[str, Any]) -> str:
    from home_cost import homes_table

    lines = [
        f"{results['date']} — {results['machine']}"
        + (" — quick run" if results.get("quick") else ""),
    ]
    if not results.get("homes_only"):
        lines += ["", *agents_table(results)]
    lines += homes_table(results)
    if "lever" in results:
        lines += lever_tables(results["lever"])
    lines += ["", f"({results['seconds']:.0f} s)"]
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    path = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).with_name("results") / "latest.json"
    )
    print(render(json.loads(path.read_text())))
