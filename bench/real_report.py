"""The Markdown tables of bench/real_episode.py (also: `python bench/real_report.py [FILE]`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def render(results: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.2f}" for x in results["load_at_start"])
    argv = results.get("server", {}).get("argv", [])
    server = " ".join([Path(argv[0]).name, *argv[1:]]) if argv else "?"
    lines = [
        f"Real-model episode, {results['date']}: load average {load} at start; "
        f"{results.get('seconds', 0):.0f} s in all.",
        f"Model server: `{server}`",
        "",
        "| agent | correct | wall s | requests | steps | prompt tokens processed "
        "| reused from cache | generated | server s | harness s (share) | server cores, load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    notes: list[str] = []
    for name, a in results["agents"].items():
        label = f"{name} {a.get('version', '')}".strip()
        if "unavailable" in a:
            lines.append(f"| {label} | could not run: {a['unavailable']} |" + " |" * 9)
            continue
        share = a["harness_s"] / a["wall_s"] if a["wall_s"] else 0
        lines.append(
            f"| {label} | {a['correct']}/{a['runs']} | {a['wall_s']:.1f} | {a['requests']:g} "
            f"| {a['steps']:g} | {a['prompt_n']:g} | {a['cache_n']:g} "
            f"| {a['predicted_n']:g} | {a['server_s']:.1f} | {a['harness_s']:.1f} "
            f"({share:.0%}) | {_f(a.get('server_cores'))}, {_f(a.get('load'))} |"
        )
        notes += [f"- {name}: not correct: {why}" for why in a["failures"]]
        notes += [
            f"- {name}, episode {i}: {calls} steps (the task asks for one per command, 5)"
            for i, run in enumerate(a["all_runs"], 1)
            if (calls := steps(run)) != 5
        ]
    lines += ["", "Per request of the median run (processed + reused prompt tokens, server s):", ""]
    for name, a in results["agents"].items():
        if "median_run" in a:
            lines.append(f"- {name}: " + (per_request(a["median_run"]) or "no requests"))
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


def steps(run: dict[str, Any]) -> int:
    """Commands the model asked for: tool calls, or fenced commands in mini's text mode."""
    return sum((x.get("tool_calls") or 0) + (x.get("text_commands") or 0) for x in run["requests"])


def per_request(run: dict[str, Any]) -> str:
    return " · ".join(
        f"{_n(x.get('prompt_n'))}+{_n(x.get('cache_n'))} ({x['server_s']:.1f} s)"
        + ("" if x["status"] == 200 else f" HTTP {x['status']}")
        for x in run["requests"]
    )


def _f(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "results" / "real_episode.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print(render(json.loads(path.read_text())))
