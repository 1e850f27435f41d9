"""`lever exec` flags (argparse only); the run lives in `lever.cli.exec`."""

from __future__ import annotations

import argparse
from typing import Any

from lever.cli.exit_codes import HELP as EXIT_CODES_HELP
from lever.cli.flags import add_limit_flags, add_model_flags, add_policy_flags, compact_at


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "exec",
        help="run a task non-interactively (scripts, CI)",
        description="Run one task to its end without a person: progress on stderr, the final "
        "message on stdout.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", help="the task; '-' reads it from stdin")
    p.add_argument("--json", action="store_true", help="print the event stream as JSONL on stdout")
    p.add_argument(
        "-o", "--output-last-message", metavar="FILE", help="also write the final message to FILE"
    )
    p.add_argument("-C", "--cd", metavar="DIR", help="work in DIR (default: the current folder)")
    add_limit_flags(p, timeout_default="limits.max_seconds, else 4 h")
    p.add_argument(
        "--compact-at",
        type=compact_at,
        metavar="N|P%",
        help="compact the context at N tokens or P%% of the window (default 85%%)",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="with --provider local: pull the model (and llama-server) first if missing",
    )
    _add_sandbox_flags(p)
    add_model_flags(p)
    return p


def _add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sandbox and approvals")
    add_policy_flags(
        group,
        sandbox_default="config sandbox.mode, else workspace-write",
        approval_default="config `approval`, else never: exec has no one to ask, so requests "
        "are denied unless --approve-all",
    )
    group.add_argument(
        "--approve-all",
        action="store_true",
        help="approve every request (escalations, reruns outside the sandbox); the policy "
        "defaults to on-failure. For trusted automation only",
    )


def run(args: argparse.Namespace) -> int:
    from lever.cli.exec import run_exec

    return run_exec(args)
