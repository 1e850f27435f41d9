"""lever's benchmark suite, side by side with the Codex CLI and mini-swe-agent: `bench/run`.

    bench/run [--quick] [--agents lever,codex,mini] [--json FILE] [--homes-only]

Prints a Markdown table and writes the raw figures as JSON (bench/results/latest.json). Peers
are installed on first use into ~/.cache/lever-bench (npm, PyPI); every agent talks only to the
fake model on 127.0.0.1. See bench/README.md for what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agents import AGENTS, Agent
from common import first_request_ms, time_starts
from home_cost import home_figures
from sandbox_cost import sandbox_figures
from trajectory import step_figures

HERE = Path(__file__).resolve().parent
BUDGETS = {
    "version": "< 80 ms",
    "first_request": "",
    "overhead_200": "< 5 ms",
    "rss": "< 80 MB",
    "prefix": "≥ 0.99",
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )


def measure_agent(
    agent: Agent, quick: bool, folder: Path, *, homes_only: bool = False
) -> dict[str, Any]:
    """Every figure for one agent; a section that fails records why instead of a number."""
    out: dict[str, Any] = {"version": agent.version}
    repeats = 1 if quick else 5
    out["homes"] = _attempt(lambda: home_figures(agent, 100, repeats, folder / "homes"))
    if homes_only:
        return out
    starts = 5 if quick and agent.name != "lever" else (10 if quick else 20)
    for key, argv in (("version_start", agent.version_argv), ("help_start", agent.help_argv)):
        out[key] = _attempt(lambda argv=argv: time_starts(argv(), starts))
    native = getattr(agent, "native", None)
    if native is not None:
        out["version_native"] = _attempt(lambda: time_starts([str(native), "--version"], starts))
    home = folder / "first-request"
    work = home / "work"
    work.mkdir(parents=True)
    out["first_request"] = _attempt(
        lambda: first_request_ms(
            lambda url: agent.argv(url, work, home), 3 if quick else 10,
            env=agent.env("", home), cwd=work,
        )
    )  # fmt: skip
    out["steps"] = _attempt(lambda: step_figures(agent, [20, 200], 1 if quick else 3, folder))
    return out


def _attempt(measure: Any) -> Any:
    try:
        return measure()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def lever_extras(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"sandbox": _attempt(lambda: sandbox_figures(30 if quick else 100))}
    for label, sessions in (("one_session", 1), ("fleet_100", 100)):
        out[label] = _attempt(
            lambda sessions=sessions: _script_json("fleet_rss.py", "--sessions", str(sessions))
        )
    # 50 sessions streaming to 5 dashboard clients (250 SSE connections); --quick: 10 s.
    seconds = "10" if quick else "60"
    idle = "5" if quick else "30"
    out["dashboard_stream"] = _attempt(
        lambda: _script_json(
            "dashboard_stream.py", "--seconds", seconds, "--idle-seconds", idle, "--check-exit", "0"
        )
    )
    if not quick:
        out["soak"] = _attempt(lambda: _script_text("soak.py"))
    return out


def _script_json(name: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, str(HERE / name), *args], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-300:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _script_text(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(HERE / name)], capture_output=True, text=True, timeout=7200
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-300:])
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no soak (< 3 min)")
    parser.add_argument("--agents", default="lever,codex,mini", help="comma-separated")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument(
        "--homes-only", action="store_true", help="only per-step cost in a clean and realistic HOME"
    )
    args = parser.parse_args()
    started = time.time()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "quick": args.quick,
        "agents": {},
    }
    with tempfile.TemporaryDirectory(prefix="lever-bench-") as tmp:
        for key in args.agents.split(","):
            agent = AGENTS[key]()
            agent.install()
            print(f"… {agent.name}", file=sys.stderr, flush=True)
            if agent.unavailable:
                results["agents"][agent.name] = {"unavailable": agent.unavailable}
                continue
            folder = Path(tmp) / key
            folder.mkdir()
            results["agents"][agent.name] = measure_agent(
                agent, args.quick, folder, homes_only=args.homes_only
            )
    results["homes_only"] = args.homes_only
    if "lever" in args.agents.split(",") and not args.homes_only:
        print("… lever: sandbox, memory", file=sys.stderr, flush=True)
        results["lever"] = lever_extras(args.quick)
    results["seconds"] = time.time() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    from report import render

    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
