"""`lever fleet`: many attempts at tasks in parallel worktrees, verified, the best applied.

`register` uses argparse only (start-up stays fast); the work lives in `lever.fleet`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lever.cli.flags import add_model_flags, add_policy_flags, positive_int, positive_seconds


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "fleet",
        help="run tasks as many parallel attempts in git worktrees; apply the best",
        description="Run each task k times, each attempt in its own git worktree (or copy) with "
        "its own session; grade each with a verification command; apply the best. Docs: "
        "docs/fleet.md.",
    )
    # `lever fleet` alone prints this help (like `lever` alone).
    actions = p.add_subparsers(dest="fleet_action", metavar="ACTION")
    p.set_defaults(fleet_help=p.format_help)
    _register_run(actions)
    resume = actions.add_parser(
        "resume",
        help="finish a run whose driver died or was interrupted",
        description="Run again every attempt of RUN without a result (a half-done one restarts "
        "in a fresh worktree), with the run's recorded options; then choose as usual.",
    )
    resume.add_argument("run", help="the run id (or a unique prefix)")
    resume.add_argument("--concurrency", type=int, help="attempts at once (default: as recorded)")
    resume.add_argument("--executor", choices=("local", "ray"), help="default: as recorded")
    resume.add_argument("--ray-address", metavar="ADDR", help="a running Ray cluster")
    resume.add_argument("--ray-repo", choices=("auto", "shared", "bundle"), help="as recorded")
    show = actions.add_parser("show", help="the results table and the chosen diffs of a run")
    show.add_argument("run", help="the run id (or a unique prefix)")
    apply = actions.add_parser("apply", help="apply the chosen diff(s) to the main worktree")
    apply.add_argument("run", help="the run id (or a unique prefix)")
    apply.add_argument("--task", help="only this task")
    apply.add_argument("--attempt", type=int, help="this attempt instead of the chosen one")
    clean = actions.add_parser("clean", help="remove a run's worktrees and branches")
    clean.add_argument("run", help="the run id (or a unique prefix)")
    actions.add_parser("list", help="the recorded runs")
    return p


def _register_run(actions: Any) -> None:
    run = actions.add_parser(
        "run",
        help="run tasks x attempts",
        description="Attempts get branches lever/fleet/RUN/TASK/N from HEAD plus your "
        "uncommitted changes; approval policy never; the configured sandbox. Exit 0 when every "
        "task has a passing attempt, 1 when some has none, 130 when interrupted.",
    )
    run.add_argument("prompts", nargs="*", metavar="TASK", help="task prompts (ids t1, t2, …)")
    run.add_argument("--tasks", metavar="FILE", help="tasks from JSONL or TOML: id, prompt, verify")
    run.add_argument("-k", "--attempts", type=int, default=4, help="attempts per task (4)")
    run.add_argument("--verify", metavar="CMD", help="shell command; exit 0 passes an attempt")
    run.add_argument("--verify-timeout", type=float, default=600.0, metavar="SECONDS")
    run.add_argument("--concurrency", type=int, help="attempts at once (default: CPU count)")
    run.add_argument("--executor", choices=("local", "ray"), default="local")
    run.add_argument("--ray-address", metavar="ADDR", help="a running Ray cluster (ray executor)")
    run.add_argument(
        "--ray-repo",
        choices=("auto", "shared", "bundle"),
        default="auto",
        help="how Ray workers get the repository: the shared path, a git bundle, or auto "
        "(a bundle when the cluster has other machines; each worker checks its path)",
    )
    run.add_argument("-C", "--cd", metavar="DIR", help="work from DIR (default: here)")
    run.add_argument("--max-turns", type=positive_int, help="per attempt: model requests")
    run.add_argument("--max-tokens", type=positive_int, help="per attempt: tokens in total")
    run.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="per attempt: wall time"
    )
    add_policy_flags(
        run, sandbox_default="config sandbox.mode, else workspace-write", approval_default=None
    )
    add_model_flags(run)


def run(args: argparse.Namespace) -> int:
    from lever.cli import fleet_actions

    return fleet_actions.dispatch(args)


def fail(message: str, code: int = 2) -> int:
    print(f"lever fleet: {message}", file=sys.stderr)
    return code


def home() -> Path:
    from lever.config.loader import lever_home

    return lever_home()
