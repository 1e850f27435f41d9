"""`lever resume` and `lever fork`: continue a recorded session, or branch from one."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lever.cli.flags import add_limit_flags, add_model_flags, add_policy_flags


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_takes_extra_words=True)
    p.add_argument("--json", action="store_true", help="print the event stream as JSONL on stdout")
    p.add_argument("-o", "--output-last-message", metavar="FILE", help="write the final message")
    add_limit_flags(p)
    add_model_flags(p)
    _add_policy_flags(p)


def _add_policy_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "sandbox and approvals",
        "The session keeps the sandbox, approval policy, model and limits it was recorded with "
        "(the configuration does not change them). Narrowing one is always allowed; widening one "
        "needs --widen, and is recorded.",
    )
    add_policy_flags(group, sandbox_default="the recorded one", approval_default="the recorded one")
    group.add_argument(
        "--widen",
        action="store_true",
        help="allow a wider sandbox, an approval policy that asks less, or higher limits than "
        "the recorded ones",
    )


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "resume",
        help="continue a session from its rollout (after a stop, a crash or a kill)",
        description="Rebuild the session's exact history from its rollout and continue: an "
        "unfinished turn is carried on, then PROMPT (if given) is sent. In a terminal this opens "
        "the interactive app with the session's transcript; with --json, -o, --exec, a PROMPT "
        "of '-', or when stdin or stdout is not a terminal, it runs like `lever exec`.",
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="[SESSION] [PROMPT]",
        help="session id (or a unique prefix; omit with --last), then an optional new message "
        "to send after continuing ('-' reads it from stdin)",
    )
    p.add_argument("--last", action="store_true", help="the most recent session")
    p.add_argument(
        "--exec",
        action="store_true",
        help="continue without the app, like `lever exec` (a PROMPT or an unfinished turn needed)",
    )
    _add_run_flags(p)
    return p


def register_fork(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "fork",
        help="start a new session from a recorded one (optionally at an earlier event)",
        description="Copy a session's history, up to event --at SEQ if given, into a new session "
        "and send PROMPT to it. In a terminal this opens the interactive app on the fork; with "
        "--json, -o, --exec, a PROMPT of '-', or when stdin or stdout is not a terminal, it runs "
        "like `lever exec`.",
    )
    p.add_argument(
        "words",
        nargs="+",
        metavar="SESSION [PROMPT]",
        help="session id (or a unique prefix), then the message to send to the fork",
    )
    p.add_argument("--at", type=int, metavar="SEQ", help="fork after this event number")
    p.add_argument(
        "--exec",
        action="store_true",
        help="run the fork without the app, like `lever exec` (a PROMPT needed)",
    )
    _add_run_flags(p)
    p.set_defaults(last=False, fork=True)
    return p


def run(args: argparse.Namespace) -> int:
    from lever.cli.resume import resume_in_app, resume_or_fork, wants_app

    try:
        return resume_in_app(args) if wants_app(args) else resume_or_fork(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"lever {args.command}: {e}", file=sys.stderr)
        return 2
