"""Best-of-k with a real model: `lever fleet run --provider local` on lever-mini tasks, k = 5.

    uv run python bench/real_best_of_k.py                  # 8 small tasks, k = 5
    uv run python bench/real_best_of_k.py --suite lever-mini  # 8 lever-mini tasks instead
    uv run python bench/real_best_of_k.py --k1-run         # also a separate k = 1 fleet run
    uv run python bench/real_best_of_k.py --report DIR     # the table of an earlier run again

The tasks: `--suite small` (default), the eight one- or two-line fixes of
bench/real_small_tasks.py, verified by `python -c` asserts; or `--suite lever-mini`, eight
tasks of lever's eval suite. One llama-server (Qwen2.5-Coder-1.5B, `--temp 0.7`, `-np` = the
concurrency) behind the seeding proxy of bench/real_serve.py (request i is drawn with seed
SEED + i); then per task one `lever fleet run --tasks FILE -k K --concurrency C --provider
local --base-url PROXY` in a fresh git repository holding the task's files. A lever-mini
task's prompt is its `instruction`; its verify command copies the task's hidden `grade/`
files in, runs the task's grade commands (`python` = lever's interpreter, as `lever eval`
grades) and removes the copied files again, so they are neither seen by the agent nor part
of the attempt's diff.

Solved at k = 5: the fleet chose a passing attempt (verification-based selection). Solved at
k = 1: the run's first attempt (attempt 1) passed. The attempts are independent draws (each
request has its own seed), so attempt 1 is distributed as a k = 1 run's only attempt; `--k1-run`
measures it with a run of its own instead (8 more attempts). The table also gives the expected
k = 1 share, mean c / n.

Everything lands in OUT (default bench/results/real_best_of_k/): `summary.json`, the server
log, `requests.jsonl` (every request with its seed and token figures) and LEVER_HOME with the
fleet runs' records (`home/fleets/RUN/`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from real_serve import SeedingProxy, start_server
from real_small_tasks import TASKS as SMALL
from real_small_tasks import write
from run import machine

from lever.local.server import stop_process

SUITE = Path(__file__).resolve().parents[1] / "src/lever/evals/suites/lever_mini"
#: `--suite lever-mini`: single-module bugs a 1.5B model has a chance at, plus two it probably
#: fails (a spec only in the repository's docs; a refactor across three files), chosen before
#: any run. On 2 shared cores these take minutes per attempt; `--suite small` (the default,
#: bench/real_small_tasks.py) is what fits a 40-attempt run there.
LEVER_MINI = [
    "parse-bool-env",
    "temperature-convert",
    "mutable-default-tags",
    "deep-merge",
    "paginate-off-by-one",
    "slugify-accents",
    "config-follows-docs",
    "refactor-round-price",
]


def verify_command(task_dir: Path, grade: list[str]) -> str:
    """Copy the hidden grade files in, grade, remove them; exit with the grade's status."""
    hidden = task_dir / "grade"
    files = sorted(p.relative_to(hidden) for p in hidden.rglob("*") if p.is_file())
    python = sys.executable
    commands = [f"{python} {c[7:]}" if c.startswith("python ") else c for c in grade]
    remove = " ".join(f"'{f}'" for f in files)
    return f"cp -r '{hidden}/.' . && ({' && '.join(commands)}); s=$?; rm -f {remove}; exit $s"


def commit_repo(dest: Path) -> None:
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "task"], cwd=dest, check=True)


def prepare(suite: str, task_id: str, repo: Path) -> dict[str, str]:
    """The task's repository at `repo` (one commit); its fleet task line."""
    shutil.rmtree(repo, ignore_errors=True)
    if suite == "small":
        task = next(t for t in SMALL if t.id == task_id)
        repo.mkdir(parents=True)
        write(repo, task.files)
        line = {"id": task_id, "prompt": task.prompt, "verify": task.verify(sys.executable)}
    else:
        task_dir = SUITE / task_id
        spec = tomllib.loads((task_dir / "task.toml").read_text())
        shutil.copytree(task_dir / "repo", repo)
        line = {"id": task_id, "prompt": spec["instruction"].strip(),
                "verify": verify_command(task_dir, spec["grade"])}  # fmt: skip
    commit_repo(repo)
    return line


def run_fleet(
    task_id: str, k: int, args: argparse.Namespace, base_url: str, out: Path
) -> dict[str, Any]:
    repo = out / "repos" / f"{task_id}-k{k}"
    line = prepare(args.suite, task_id, repo)
    tasks = out / "tasks" / f"{task_id}.jsonl"
    tasks.parent.mkdir(parents=True, exist_ok=True)
    tasks.write_text(json.dumps(line) + "\n")
    home = out / "home"
    before = set((home / "fleets").glob("*")) if (home / "fleets").is_dir() else set()
    env = {**os.environ, "LEVER_HOME": str(home)}
    argv = [
        sys.executable, "-m", "lever.cli.main", "fleet", "run", "--tasks", str(tasks), "-k", str(k),
        "--concurrency", str(args.parallel), "--provider", "local", "--base-url", base_url,
        "--timeout", str(args.timeout), "--max-turns", str(args.max_turns),
    ]  # fmt: skip
    began = time.monotonic()
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
    wall = time.monotonic() - began
    runs = sorted(set((home / "fleets").glob("*")) - before)
    if not runs:
        raise SystemExit(f"fleet run for {task_id} left no record:\n{done.stderr[-2000:]}")
    results = json.loads((runs[-1] / "results.json").read_text())
    subprocess.run(
        [sys.executable, "-m", "lever.cli.main", "fleet", "clean", runs[-1].name], env=env,
        cwd=repo, capture_output=True,
    )  # fmt: skip
    return {"task": task_id, "k": k, "run": runs[-1].name, "exit": done.returncode,
            "wall": round(wall, 1), "results": results}  # fmt: skip


def warm_up(base_url: str, slots: int, out: Path) -> None:
    """One short `lever exec` per server slot, so that no measured attempt pays for the
    system prompt and tool schemas (about 1,800 tokens, the same for every request) being read
    for the first time: minutes on 2 loaded cores."""
    env = {**os.environ, "LEVER_HOME": str(out / "home")}
    argv = [sys.executable, "-m", "lever.cli.main", "exec", "--provider", "local",
            "--base-url", base_url, "--max-turns", "1", "-a", "never",
            "Reply with OK."]  # fmt: skip
    began = time.monotonic()
    children = [
        subprocess.Popen(
            argv, cwd=out, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(slots)
    ]
    for child in children:
        child.wait()
    print(f"warm-up: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)


def run_tasks(
    task_ids: list[str],
    k: int,
    args: argparse.Namespace,
    base_url: str,
    out: Path,
    runs: list[dict[str, Any]],
    summary: dict[str, Any],
    began: float,
) -> None:
    for task_id in task_ids:
        if args.stop_after and time.monotonic() - began > args.stop_after:
            summary["skipped"].append(f"{task_id} k={k}")
            continue
        runs.append(run_fleet(task_id, k, args, base_url, out))
        print(f"{task_id} k={k}: exit {runs[-1]['exit']} in {runs[-1]['wall']} s",
              file=sys.stderr, flush=True)  # fmt: skip
        (out / "runs.json").write_text(json.dumps(runs, indent=1))


def attempts_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    found = run["results"].get("attempts", [])
    return sorted(found, key=lambda a: a["attempt"])


def chosen_of(run: dict[str, Any]) -> Any:
    chosen = run["results"].get("chosen", {})
    return chosen.get(run["task"]) if isinstance(chosen, dict) else None


def summarize(runs: list[dict[str, Any]], k: int) -> dict[str, Any]:
    rows = []
    for run in (r for r in runs if r["k"] == k):
        attempts = attempts_of(run)
        c = sum(a["status"] == "passed" for a in attempts)
        rows.append({
            "task": run["task"], "n": len(attempts), "c": c,
            "first_passed": bool(attempts) and attempts[0]["status"] == "passed",
            "chosen": chosen_of(run), "solved": c > 0, "wall": run["wall"],
            "tokens": sum(a["tokens"] for a in attempts),
            "outcomes": [f"{a['status']}/{a['reason'] or a.get('error')}" for a in attempts],
        })  # fmt: skip
    n = len(rows) or 1
    return {
        "rows": rows,
        "solved_k": sum(r["solved"] for r in rows) / n,
        "solved_first": sum(r["first_passed"] for r in rows) / n,
        "expected_k1": sum(r["c"] / max(r["n"], 1) for r in rows) / n,
        "wall": round(sum(r["wall"] for r in rows), 1),
        "tokens": sum(r["tokens"] for r in rows),
    }


def render(summary: dict[str, Any]) -> str:
    k, meta = summary["k"], summary["meta"]
    main = summary["by_k"][str(k)]
    lines = [
        f"# best-of-k, {meta['model']}, temp {meta['temperature']}, seeds from "
        f"{meta['seed']}, {meta['date']}, {meta['machine']}",
        "",
        f"| task | c / n (k = {k}) | attempt 1 | solved at k = {k} | chosen | wall s | tokens |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in main["rows"]:
        lines.append(
            f"| {r['task']} | {r['c']} / {r['n']} | {'pass' if r['first_passed'] else 'fail'} "
            f"| {'yes' if r['solved'] else 'no'} | {'-' if r['chosen'] is None else r['chosen']} "
            f"| {r['wall']} | {r['tokens']} |"
        )
    total = len(main["rows"])
    lines += [
        "",
        f"solved with verification-based selection: k = 1 (attempt 1) "
        f"{round(main['solved_first'] * total)}/{total}, k = {k} "
        f"{round(main['solved_k'] * total)}/{total}; expected at k = 1 (mean c/n) "
        f"{main['expected_k1']:.0%}; wall {main['wall']} s, {main['tokens']} tokens",
    ]
    if summary.get("skipped"):
        lines.append(f"not run (--stop-after): {', '.join(summary['skipped'])}")
    if "1" in summary["by_k"] and k != 1:
        one = summary["by_k"]["1"]
        lines.append(
            f"separate k = 1 run: {round(one['solved_k'] * len(one['rows']))}/"
            f"{len(one['rows'])} solved, wall {one['wall']} s"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("small", "lever-mini"), default="small")
    parser.add_argument("--tasks", help="task ids, commas (default: all 8 of the suite)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--k1-run", action="store_true", help="also a separate k = 1 run")
    parser.add_argument("--parallel", type=int, default=2, help="server slots = concurrency")
    parser.add_argument("--model", default="1.5b")
    parser.add_argument("--temp", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--timeout", type=int, default=150, help="per attempt, seconds")
    parser.add_argument("--max-turns", type=int, default=30)
    default_out = Path(__file__).parent / "results/real_best_of_k"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument(
        "--stop-after", type=float, help="start no further task after this many seconds"
    )
    parser.add_argument("--base-url", help="use this running server instead of starting one")
    parser.add_argument("--report", type=Path, help="print the table of an earlier run")
    args = parser.parse_args()
    if args.report:
        print(render(json.loads((args.report / "summary.json").read_text())))
        return 0
    default_ids = [t.id for t in SMALL] if args.suite == "small" else LEVER_MINI
    task_ids = args.tasks.split(",") if args.tasks else default_ids
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    began = time.monotonic()
    runs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"k": args.k, "skipped": []}
    ks = [args.k] + ([1] if args.k1_run else [])
    if args.base_url:  # a running server (and its seeds): e.g. bench/real_serve.py's proxy
        server_argv = [f"(running, --base-url {args.base_url})"]
        for k in ks:
            run_tasks(task_ids, k, args, args.base_url, out, runs, summary, began)
    else:
        process, upstream, server_argv = start_server(args.model, args.temp, out, args.parallel)
        try:
            with SeedingProxy(upstream, args.seed, out / "requests.jsonl") as proxy:
                warm_up(proxy.base_url, args.parallel, out)
                for k in ks:
                    run_tasks(task_ids, k, args, proxy.base_url, out, runs, summary, began)
                    proxy.flush()
        finally:
            stop_process(process.pid, process)
    summary["meta"] = {
        "model": f"Qwen2.5-Coder-{args.model.upper()}-Instruct (lever's pinned GGUF)",
        "temperature": args.temp,
        "seed": args.seed, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(), "load_at_start": load, "load_at_end": os.getloadavg()[0],
        "server": server_argv, "timeout": args.timeout, "max_turns": args.max_turns,
        "concurrency": args.parallel, "suite": args.suite,
    }  # fmt: skip
    summary["by_k"] = {str(k): summarize(runs, k) for k in sorted({r["k"] for r in runs})}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(render(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
