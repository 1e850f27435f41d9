"""`lever eval`: run a task suite and report pass@k / pass^k; compare two runs (docs/evals.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lever.cli.flags import add_model_flags, add_policy_flags, positive_int

_EPILOG = """\
examples:
  lever eval list
  lever eval run lever-mini --oracle             # validate a suite: every task must pass
  lever eval run lever-mini --empty              # ... and fail on the untouched repository
  lever eval run lever-mini --provider local -k 5 --concurrency 2 -o run.json
  lever eval run lever-mini --provider local -k 5 --executor ray --concurrency 4
  lever eval run lever-mini --provider local --agent mini-swe-agent -o mini.json
  lever eval run swe.jsonl --source ~/.cache/lever/sdists --oracle
  lever eval report run.json --html run.html
  lever eval compare a.json b.json

SUITE is a built-in suite name, a folder of task folders, one task folder, or a JSONL file
(lever tasks or SWE-bench instances). Docs: docs/evals.md.
Exit status of `run`: 0 when it finished (whatever the pass rate; with --oracle: 0 only if every
attempt passed, with --empty: 0 only if every attempt failed), 2 for bad input."""


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="run task suites and report pass@k and pass^k",
        description="Evaluate an agent on outcome-graded tasks (tests decide, not a model).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="eval_action", metavar="ACTION")
    _register_run(actions)
    report = actions.add_parser("report", help="show a JSON report; write its HTML page")
    report.add_argument("report", help="a report written by `lever eval run`")
    report.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
    compare = actions.add_parser("compare", help="two runs side by side, with a significance test")
    compare.add_argument("a", help="the baseline report")
    compare.add_argument("b", help="the report compared with it")
    compare.add_argument("--seed", type=int, default=0, help="test seed (default 0)")
    actions.add_parser("list", help="list the built-in suites")
    return p


def _register_run(actions: Any) -> None:
    run = actions.add_parser("run", help="run a suite and write a JSON report")
    run.add_argument("suite", help="built-in name, task folder(s) or JSONL file")
    who = run.add_mutually_exclusive_group()
    who.add_argument("--oracle", action="store_true", help="apply each reference solution")
    who.add_argument("--empty", action="store_true", help="grade the untouched repository")
    run.add_argument("-k", type=int, default=1, help="attempts per task (default 1)")
    run.add_argument("--concurrency", type=int, default=1, help="attempts at once (default 1)")
    run.add_argument("--task", action="append", default=[], metavar="ID", help="only this task")
    run.add_argument("--tag", action="append", default=[], help="only tasks with this tag")
    run.add_argument("-o", "--output", metavar="FILE", help="write the JSON report here")
    run.add_argument("--html", metavar="FILE", help="also write the HTML report here")
    run.add_argument(
        "--source",
        metavar="PATH",
        help="SWE-bench lines: a git repository with their base commits, or a folder of "
        "sdists (default ~/.cache/lever/sdists)",
    )
    run.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    run.add_argument("--keep", metavar="DIR", help="keep the attempt workspaces in DIR")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--agent",
        default="lever",
        metavar="AGENT",
        help="lever (default), codex, mini-swe-agent, or cmd:TEMPLATE with {instruction} "
        "{instruction_file} {workdir} {base_url} {model} {timeout}",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where lever's attempts run (fleet executors; default local)",
    )
    run.add_argument("--ray-address", metavar="ADDR", help="a running Ray cluster (ray executor)")
    run.add_argument(
        "--price",
        metavar="IN/OUT",
        help="US dollars per million input/output tokens, for cost per attempt",
    )
    run.add_argument(
        "--max-turns",
        type=positive_int,
        metavar="N",
        help="per attempt: model requests (lever's agent)",
    )
    add_policy_flags(
        run, sandbox_default="config sandbox.mode, else workspace-write", approval_default=None
    )
    add_model_flags(run)


def run(args: argparse.Namespace) -> int:
    from lever.cli import exit_codes
    from lever.config.providers import ConfigError
    from lever.evals import tasks
    from lever.evals.actors import AgentChoiceError
    from lever.evals.pricing import PriceError
    from lever.evals.report import ReportError
    from lever.evals.workspace import WorkspaceError
    from lever.fleet.executors import ExecutorError

    bad_input = (tasks.TaskError, ReportError, WorkspaceError, ConfigError, AgentChoiceError)
    try:
        if args.eval_action == "run":
            return _run(args)
        if args.eval_action == "report":
            return _report(args)
        if args.eval_action == "compare":
            return _compare(args)
        if args.eval_action == "list":
            for name in tasks.builtin_suites():
                print(f"{name}\t{len(tasks.load_suite(name))} tasks")
            return exit_codes.OK
    except (*bad_input, PriceError, ExecutorError) as e:
        print(f"lever eval: {e}", file=sys.stderr)
        return exit_codes.USAGE
    print("lever eval: give an action: run, report, compare or list", file=sys.stderr)
    return exit_codes.USAGE


def _select(args: argparse.Namespace) -> list[Any]:
    from pathlib import Path

    from lever.evals.tasks import TaskError, load_suite

    source = Path(args.source).expanduser() if args.source else None
    chosen = load_suite(args.suite, source)
    if args.task:
        unknown = sorted(set(args.task) - {t.id for t in chosen})
        if unknown:
            raise TaskError(f"{args.suite}: no task {unknown[0]!r}")
        chosen = [t for t in chosen if t.id in args.task]
    if args.tag:
        chosen = [t for t in chosen if set(args.tag) & set(t.tags)]
    if not chosen:
        raise TaskError(f"{args.suite}: no task matches --task/--tag")
    return chosen


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lever.cli import exit_codes
    from lever.evals.render import print_run
    from lever.evals.report import write_report
    from lever.evals.runner import RunOptions, run_suite

    if args.k < 1 or args.concurrency < 1:
        print("lever eval: -k and --concurrency must be at least 1", file=sys.stderr)
        return exit_codes.USAGE
    mode = "oracle" if args.oracle else "empty" if args.empty else "agent"
    tasks = _select(args)
    options = RunOptions(
        suite=args.suite,
        mode=mode,
        k=args.k,
        concurrency=args.concurrency,
        seed=args.seed,
        executor=args.executor,
        ray_address=args.ray_address,
        keep=Path(args.keep) if args.keep else None,
        progress=None if args.quiet else sys.stderr,
    )
    if mode == "agent":
        _agent_options(args, options)
    report = run_suite(tasks, options)
    if args.output:
        write_report(report, Path(args.output))
    if args.html:
        _write_html(report, Path(args.html))
    print_run(report)
    if report.unconfined:
        print(f"lever eval: graded WITHOUT a sandbox: {report.unconfined}", file=sys.stderr)
    if mode == "oracle" and report.summary.passed != report.summary.attempts:
        return exit_codes.ERROR
    if mode == "empty" and report.summary.passed != 0:
        return exit_codes.ERROR
    return exit_codes.OK


def _agent_options(args: argparse.Namespace, options: Any) -> None:
    """The agent and its model, resolved as `lever exec` (and `lever fleet`) resolve them.
    Raises ConfigError, AgentChoiceError or PriceError for bad input."""
    from pathlib import Path

    from lever.assembly import limits_from, load_for, resolve_from_args, sandbox_from
    from lever.config.providers import ConfigError
    from lever.evals.actors import parse_agent
    from lever.evals.attempts import LeverAgent
    from lever.evals.pricing import price_for
    from lever.sandbox.approval import is_unconfined

    external = parse_agent(args.agent, args.model, args.base_url, args.api_key_env)
    cwd = Path.cwd()
    config = load_for(args, cwd)
    # `--provider local`: one llama-server for the run, a slot per concurrent attempt.
    resolved = resolve_from_args(args, config, parallel=args.concurrency)
    options.provider, options.model = resolved.provider.name, resolved.model
    options.price = price_for(args.price, resolved.provider.name)
    if external is not None:
        # Pointed at the same endpoint and model lever would use.
        options.external = type(external)(
            external.name,
            external.template,
            external.model or resolved.model,
            external.base_url or resolved.provider.base_url,
            external.api_key_env or resolved.provider.key_env,
        )
        return
    if is_unconfined(sandbox_from(config, args, cwd)):
        raise ConfigError(
            "no sandbox mechanism is available to confine the attempts' commands, and evals "
            "never ask for approval; install bubblewrap or use --sandbox danger-full-access"
        )
    options.lever = LeverAgent(resolved, config, limits_from(config, args), args.sandbox)
    options.exit_code_of = _exit_code


def _exit_code(reason: str, detail: str) -> int:
    from lever.cli.exec import exit_code_for
    from lever.protocol import TurnFinished

    return exit_code_for(TurnFinished(reason=reason, last_message="", detail=detail))


def _write_html(report: Any, path: Any) -> None:
    from lever.evals.html import render_html

    path.write_text(render_html(report), encoding="utf-8")


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lever.evals.render import print_run
    from lever.evals.report import read_report

    report = read_report(Path(args.report))
    if args.html:
        _write_html(report, Path(args.html))
    print_run(report)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lever.evals.render import print_compare
    from lever.evals.report import read_report

    print_compare(read_report(Path(args.a)), read_report(Path(args.b)), seed=args.seed)
    return 0
