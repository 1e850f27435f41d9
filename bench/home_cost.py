"""Per-step cost in an empty HOME and in a realistic one (issue 12): `bench/run` section "homes".

A synthetic HOME hid what users pay: a pyenv-style `.bashrc` costs ~0.4 s per login shell. Each
agent runs N steps (its default way of running a string command, `Agent.home_turns`) with HOME
= an empty folder, then with HOME = the tests' realistic profile (lever.testing.realistic_home:
0.3 s in `.bashrc`, 0.3 s more in the profile, noise on stderr, shims on PATH).

Figures per HOME, medians over the repeats (round by round, the two HOMEs alternating):
- wall per step: (last request - second request) / (N - 1), from the fake server's timestamps;
  the first step is left out of it and shown on its own, since it waits for whatever the agent
  does once at start-up (lever: the login-shell snapshot);
- first step: second request - first request;
- CPU per step: (CPU(N) - CPU(1)) / (N - 1) of the agent's whole process tree (commands
  included), so one-time start-up work cancels out;
- whole run: the process's wall time for N steps.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from agents import Agent
from trajectory import run_trajectory

HOMES = ("clean", "realistic")


def home_figures(agent: Agent, steps: int, repeats: int, folder: Path) -> dict[str, Any]:
    # Round by round, each HOME once per round: a change in the shared machine's load falls on
    # both alike.
    ones: dict[str, list[dict[str, Any]]] = {home: [] for home in HOMES}
    runs: dict[str, list[dict[str, Any]]] = {home: [] for home in HOMES}
    for r in range(repeats):
        for home in HOMES:
            ones[home].append(run_trajectory(agent, 1, folder / f"{home}-1-r{r}", user_home=home))
            runs[home].append(
                run_trajectory(agent, steps, folder / f"{home}-n-r{r}", user_home=home)
            )
    failed = [x for home in HOMES for x in (*ones[home], *runs[home]) if not x["ok"]]
    if failed:
        x = failed[0]
        raise RuntimeError(
            f"{agent.name}: run of {x['steps']} steps exited {x['returncode']} after "
            f"{x['steps_done']} steps"
        )
    out: dict[str, Any] = {"steps": steps, "repeats": repeats}
    for home in HOMES:
        cpu_one = statistics.median(x["cpu_s"] for x in ones[home])
        done = runs[home]
        out[home] = {
            "wall_ms": statistics.median(
                (x["steps_s"] - x["first_step_s"]) / (steps - 1) * 1000 for x in done
            ),
            "first_step_ms": statistics.median(x["first_step_s"] * 1000 for x in done),
            "cpu_ms": statistics.median((x["cpu_s"] - cpu_one) / (steps - 1) * 1000 for x in done),
            "run_s": statistics.median(x["wall_s"] for x in done),
        }
    clean, realistic = out["clean"], out["realistic"]
    out["ratio"] = {
        key: realistic[key] / clean[key] if clean[key] else None for key in ("wall_ms", "cpu_ms")
    }
    return out


def homes_table(results: dict[str, Any]) -> list[str]:
    """The Markdown table: one row per agent and HOME."""
    lines = [
        "",
        "| per step, N = {n} | HOME | wall per step | CPU per step | first step | whole run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    n = None
    for name, data in results["agents"].items():
        figures = data.get("homes") if isinstance(data, dict) else None
        if figures is None:
            continue
        if "steps" not in figures:
            why = figures.get("error") or data.get("unavailable")
            lines.append(f"| {name} | | n/a ({why}) | | | |")
            continue
        n = figures["steps"]
        for home in HOMES:
            f = figures[home]
            lines.append(
                f"| {name} | {home} | {f['wall_ms']:.1f} ms | {f['cpu_ms']:.1f} ms | "
                f"{f['first_step_ms']:.0f} ms | {f['run_s']:.2f} s |"
            )
        ratio = figures["ratio"]
        lines.append(
            f"| {name} | realistic / clean | {_x(ratio['wall_ms'])} | {_x(ratio['cpu_ms'])} | | |"
        )
    lines[1] = lines[1].format(n=n or "?")
    return lines if len(lines) > 3 else []


def _x(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}"
