"""`lever review`: a read-only review of a diff, as text or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from lever.cli.flags import add_model_flags

if TYPE_CHECKING:
    from lever.review.findings import ReviewReport


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "review",
        help="review a diff: findings with file, lines, priority, and a verdict",
        description="Review a change with the agent in a read-only sandbox (approval never): it "
        "reads the diff and the code around it, may run the tests, and reports findings (file, "
        "line range in the new version, priority P0-P3, confidence) and a verdict. Findings "
        "outside the diff's files or lines are dropped and counted. Exit code 0 when the review "
        "ran (whatever the verdict), 1 on error, 2 on a usage error.",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--uncommitted",
        action="store_true",
        help="staged, unstaged and untracked changes (the default)",
    )
    target.add_argument("--base", metavar="BRANCH", help="what HEAD adds since it left BRANCH")
    target.add_argument("--commit", metavar="SHA", help="the changes of one commit")
    p.add_argument("--json", action="store_true", help="print the review as JSON on stdout")
    p.add_argument("-C", "--cd", metavar="DIR", help="the repository (default: current folder)")
    add_model_flags(p)
    return p


def run(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from lever.assembly import build_review_session, limits_from, load_for, resolve_from_args
    from lever.cli import exit_codes
    from lever.cli.render import HumanRenderer
    from lever.config.providers import ConfigError
    from lever.review.diff import DiffError, collect_diff, target_for
    from lever.review.run import ReviewError, empty_report, run_review

    cwd = Path(args.cd or ".").resolve()
    try:
        diff = collect_diff(cwd, target_for(args.base, args.commit))
    except DiffError as e:
        print(f"lever review: {e}", file=sys.stderr)
        return exit_codes.USAGE
    if diff.empty:
        _print(empty_report(), args.json)
        return exit_codes.OK
    try:
        config = load_for(args, cwd)
        resolved = resolve_from_args(args, config)
        session = build_review_session(resolved, cwd, config, limits_from(config, args))
    except ConfigError as e:
        print(f"lever review: {e}", file=sys.stderr)
        return exit_codes.USAGE
    session.subscribe(HumanRenderer())
    try:
        outcome = asyncio.run(run_review(session, diff))
    except ReviewError as e:
        print(f"lever review: {e}", file=sys.stderr)
        return exit_codes.ERROR
    for dropped in outcome.dropped:
        print(f"lever review: dropped {dropped.finding.title!r}: {dropped.reason}", file=sys.stderr)
    _print(outcome.report, args.json)
    return exit_codes.OK


def _print(report: ReviewReport, as_json: bool) -> None:
    from lever.review.findings import format_report

    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    sys.stdout.write(format_report(report))
