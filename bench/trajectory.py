"""One agent, N steps against the fake model in its own process: time, CPU, memory, bytes."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from agents import Agent
from common import command_cost, run_process
from fake_server import byte_figures, recorded_requests, start_fake_model

from lever.testing.realistic_home import build_realistic_home


def run_trajectory(
    agent: Agent, steps: int, folder: Path, *, user_home: str | None = None
) -> dict[str, Any]:
    """Run `agent` for `steps` steps (then its final answer); the whole process is measured.

    `user_home` "clean" or "realistic" makes the agent's own folder the person's HOME, empty or
    with the slow, noisy pyenv-style profile of the tests (lever.testing.realistic_home), and
    sends the steps as the agent's model would by default (`Agent.home_turns`).
    """
    work, home = folder / "work", folder / "home"
    work.mkdir(parents=True)
    home.mkdir()
    turns = agent.turns(steps) if user_home is None else agent.home_turns(steps)
    if user_home == "realistic":
        build_realistic_home(home)
    server, base_url = start_fake_model(turns, folder)
    try:
        env = agent.env(base_url, home)
        if user_home is not None:
            env["HOME"] = str(home)
        run = run_process(agent.argv(base_url, work, home), cwd=work, env=env, timeout=600)
        recorded = recorded_requests(base_url)
    finally:
        server.kill()
        server.wait()
    times, bodies = [t for t, _ in recorded], [b for _, b in recorded]
    log = work / "log.txt"
    done = len(log.read_text().splitlines()) if log.exists() else 0
    return {
        "steps": steps,
        "steps_done": done,
        "ok": run.returncode == 0 and done == steps,
        "returncode": run.returncode,
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "max_rss_mb": run.max_rss_mb,
        "bytes": byte_figures(bodies),
        # From the first request to the last: N steps, each a model answer, the harness's
        # work and the command; start-up and shutdown are outside it.
        "steps_s": times[-1] - times[0] if len(times) > 1 else None,
        # The first step alone (it waits for whatever the agent does once at start-up).
        "first_step_s": times[1] - times[0] if len(times) > 1 else None,
    }


def step_figures(agent: Agent, sizes: list[int], repeats: int, folder: Path) -> dict[str, Any]:
    """Per-step figures at each N, minus the command's own cost (measured directly).

    Wall: the time from the first model request to the last, as the fake server saw them
    arrive, over N (start-up and shutdown fall outside). CPU: (CPU(N) - CPU(1)) / (N - 1) of the
    whole process tree, which removes start-up and the final answer.
    """
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in [1, *sizes]}
    for r in range(repeats):
        for n in runs:
            runs[n].append(run_trajectory(agent, n, folder / f"n{n}-r{r}"))
    failed = [x for rs in runs.values() for x in rs if not x["ok"]]
    if failed:
        x = failed[0]
        raise RuntimeError(
            f"{agent.name}: run of {x['steps']} steps exited {x['returncode']} after "
            f"{x['steps_done']} steps"
        )
    own = command_cost(agent.step_argv(), folder, 50)
    base_wall = statistics.median(x["wall_s"] for x in runs[1])
    base_cpu = statistics.median(x["cpu_s"] for x in runs[1])
    out: dict[str, Any] = {"command": own, "one_step_run_s": base_wall, "per_step": {}}
    for n in sizes:
        wall = statistics.median(x["wall_s"] for x in runs[n])
        cpu = statistics.median(x["cpu_s"] for x in runs[n])
        steps_s = statistics.median(x["steps_s"] for x in runs[n])
        out["per_step"][str(n)] = {
            "wall_ms": steps_s / n * 1000,
            "overhead_ms": steps_s / n * 1000 - own["wall_ms"],
            "cpu_ms": (cpu - base_cpu) / (n - 1) * 1000 - own["cpu_ms"],
            "run_s": wall,
        }
    largest = runs[max(sizes)][0]
    out["max_rss_mb"] = max(x["max_rss_mb"] for x in runs[max(sizes)])
    out["bytes"] = largest["bytes"]
    return out
