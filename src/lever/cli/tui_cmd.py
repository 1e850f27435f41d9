"""`lever [PROMPT]`: open the interactive app (argparse only here; Textual loads in `run`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lever.cli.flags import LeverParser, add_model_flags, add_policy_flags

NOT_A_TERMINAL = (
    "lever: error: the interactive app needs a terminal (stdin and stdout are not both one); "
    'to run a task from a script or a pipe, use `lever exec "task"`'
)


def build_parser() -> argparse.ArgumentParser:
    p = LeverParser(
        prog="lever",
        description="Open the interactive app in the current folder; PROMPT starts the first "
        "turn. Keys, slash commands (/help lists them), themes: docs/tui.md.",
    )
    p.add_argument("words", nargs="*", metavar="PROMPT", help="the first message to send")
    p.add_argument("-C", "--cd", metavar="DIR", help="work in DIR (default: the current folder)")
    add_policy_flags(
        p.add_argument_group("sandbox and approvals"),
        sandbox_default="config sandbox.mode, else workspace-write",
        approval_default="on-request",
    )
    p.add_argument(
        "--theme",
        metavar="NAME",
        help="dark | light | auto (default: config [tui] theme, else auto: the terminal's "
        "background from COLORFGBG) | any Textual theme, e.g. solarized-light; NO_COLOR is obeyed",
    )
    add_model_flags(p)
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return run(args)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from lever.cli.flags import stdio_is_terminal

    if not stdio_is_terminal():
        # A full-screen app on a pipe would hang or scribble escape codes into a file.
        print(NOT_A_TERMINAL, file=sys.stderr)
        return 2
    cwd = Path(args.cd or ".").resolve()
    if not cwd.is_dir():
        print(f"lever: no such folder: {cwd}", file=sys.stderr)
        return 2
    from lever.tui.app import run_app
    from lever.tui.launch import Launch

    prompt = " ".join(args.words).strip() or None
    return run_app(Launch(cwd=cwd, args=args, prompt=prompt))
