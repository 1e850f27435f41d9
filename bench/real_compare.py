"""lever and mini-swe-agent side by side on a lever-mini subset, with the same real model.

    uv run python bench/real_compare.py                  # 3 tasks x k = 3 for each agent
    uv run python bench/real_compare.py -k 5 --agents lever,mini-swe-agent

mini-swe-agent 2.4.6 is installed from PyPI on first use into its own venv
(~/.cache/lever-bench/mini-2.4.6, as bench/run does). One llama-server (Qwen2.5-Coder-1.5B,
`--temp 0.7`, `-np` = the concurrency) serves both agents; each agent runs behind its own
seeding proxy started at the same seed, so request i of either agent is drawn with seed
SEED + i (logged in OUT/AGENT.requests.jsonl). Before its run each agent gets one short warm-up
request per server slot, so neither pays for the first reading of its own system prompt. Then

    lever eval run SUBSET -k K --concurrency P --provider local --base-url PROXY \
        --agent AGENT -o OUT/AGENT.json --html OUT/AGENT.html

and `lever eval compare OUT/lever.json OUT/mini-swe-agent.json` (written to OUT/compare.txt).
The workspaces, time limit and grader are the same for both (lever/evals/actors.py); mini-swe-agent
runs its own default config (tool calls, `sh -c`, no sandbox), lever its `--provider local` one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from agents import Mini
from real_best_of_k import warm_up
from real_eval import copy_suite, run_options
from real_serve import SeedingProxy, start_server

from lever.local.server import stop_process

AGENTS = ("lever", "mini-swe-agent")


def mini_warm_up(mini: Path, base_url: str, slots: int, out: Path) -> None:
    """One single-step mini-swe-agent run per slot (its prompt read once, as lever's is)."""
    env = {**os.environ, **_mini_env(out)}
    argv = [str(mini), "-y", "--exit-immediately", "-l", "0", "-m", "openai/local",
            "-c", "mini.yaml", "-c", f"model.model_kwargs.api_base={base_url}",
            "-c", "agent.step_limit=1", "-t", "Print the word OK with echo.",
            "-o", str(out / "mini-warm-up.traj.json")]  # fmt: skip
    began = time.monotonic()
    quiet = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    children = [subprocess.Popen(argv, cwd=out, env=env, **quiet) for _ in range(slots)]
    for child in children:
        child.wait()
    print(f"mini-swe-agent warm-up: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)


def _mini_env(out: Path) -> dict[str, str]:
    # Its config folder and global .env in the run's folder, not the person's HOME.
    home = out / "mini-home"
    home.mkdir(parents=True, exist_ok=True)
    return {"MSWEA_GLOBAL_CONFIG_DIR": str(home), "MSWEA_CONFIGURED": "true",
            "MSWEA_COST_TRACKING": "ignore_errors", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENAI_API_KEY": "none"}  # fmt: skip


def run_agent(agent: str, upstream: str, args: argparse.Namespace, out: Path, mini: Path) -> int:
    log = out / f"{agent}.requests.jsonl"
    with SeedingProxy(upstream, args.seed, log) as proxy:
        if agent == "lever":
            warm_up(proxy.base_url, args.parallel, out)
        else:
            mini_warm_up(mini, proxy.base_url, args.parallel, out)
        proxy.count, proxy.seeds = 0, []  # the measured requests start at SEED
        argv = [
            sys.executable, "-m", "lever.cli.main", "eval", "run", str(out / "suite"),
            "-k", str(args.k), "--concurrency", str(args.parallel), "--provider", "local",
            "--base-url", proxy.base_url, "--agent", agent,
            "-o", str(out / f"{agent}.json"), "--html", str(out / f"{agent}.html"),
        ]  # fmt: skip
        env = {**os.environ, "LEVER_HOME": str(out / "home"), **_mini_env(out)}
        env["PATH"] = f"{mini.parent}{os.pathsep}{env['PATH']}"
        began = time.monotonic()
        code = subprocess.run(argv, env=env).returncode
        print(f"{agent}: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
        proxy.flush()
    return code


def main() -> int:
    parser = run_options(__doc__, k=3, seed=3000, results="real_compare")
    parser.add_argument("--agents", default=",".join(AGENTS), help="run order, commas")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    installer = Mini()
    installer.install()
    if installer.unavailable:
        print(f"mini-swe-agent: {installer.unavailable}", file=sys.stderr)
        return 1
    copy_suite(args.tasks.split(","), args.timeout, out / "suite")
    agents = args.agents.split(",")
    process, upstream, _ = start_server("1.5b", args.temp, out, args.parallel)
    try:
        for agent in agents:
            if run_agent(agent, upstream, args, out, installer.exe) != 0:
                return 1
    finally:
        stop_process(process.pid, process)
    if len(agents) != 2:
        return 0
    reports = [str(out / f"{agent}.json") for agent in agents]
    compare = [sys.executable, "-m", "lever.cli.main", "eval", "compare", *reports]
    shown = subprocess.run(compare, capture_output=True, text=True)
    (out / "compare.txt").write_text(shown.stdout)
    print(shown.stdout, end="")
    return shown.returncode


if __name__ == "__main__":
    raise SystemExit(main())
