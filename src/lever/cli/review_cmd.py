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

    from lever.assembly import build_session, limits_from, load_for, resolve_from_args
    from lever.cli import exit_codes
    from lever.cli.render import HumanRenderer
    from lever.config.providers import ConfigError
    from lever.review.diff import DiffError, DiffTarget, collect_diff
    from lever.review.run import ReviewError, empty_report, run_review

    cwd = Path(args.cd or ".").resolve()
    if args.base:
        target = DiffTarget("base", args.base)
    elif args.commit:
        target = DiffTarget("commit", args.commit)
    else:
        target = DiffTarget("uncommitted")
    try:
        diff = collect_diff(cwd, target)
    except DiffError as e:
        print(f"lever review: {e}", file=sys.stderr)
        return exit_codes.USAGE
    if diff.empty:
        _print(empty_report(), args.json)
        return exit_codes.OK
    try:
        config = load_for(args, cwd)
        resolved = resolve_from_args(args, config)
        sandbox, approvals = _read_only(config, cwd)
    except ConfigError as e:
        print(f"lever review: {e}", file=sys.stderr)
        return exit_codes.USAGE
    session = build_session(
        resolved, cwd, config, limits_from(config, args), sandbox=sandbox, approvals=approvals
    )
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


def _read_only(config: dict[str, Any], cwd: Any) -> tuple[Any, Any]:
    from lever.assembly import sandbox_from
    from lever.review.run import REVIEW_APPROVAL, REVIEW_SANDBOX
    from lever.sandbox.approval import Approvals

    sandbox = sandbox_from(config, argparse.Namespace(sandbox=REVIEW_SANDBOX), cwd)
    return sandbox, Approvals(REVIEW_APPROVAL)


def _print(report: ReviewReport, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    sys.stdout.write(format_report(report))


def format_report(report: ReviewReport) -> str:
    verdict = "correct" if report.verdict == "correct" else "needs changes"
    lines = [f"verdict: {verdict}"]
    if report.summary:
        lines.append(f"summary: {report.summary}")
    if report.findings:
        lines.append("")
        count = len(report.findings)
        lines.append(f"{count} finding{'s' if count != 1 else ''}:")
    for finding in sorted(report.findings, key=lambda f: (f.priority, -f.confidence)):
        lines.append(
            f"[P{finding.priority}] {finding.location}  {finding.title} "
            f"(confidence {finding.confidence:.2f})"
        )
        lines.extend(f"    {line}" for line in finding.body.strip().splitlines())
    if report.dropped:
        lines.append("")
        lines.append(
            f"{report.dropped} finding{'s' if report.dropped != 1 else ''} dropped "
            "(outside the diff's files or lines)"
        )
    return "\n".join(lines) + "\n"
