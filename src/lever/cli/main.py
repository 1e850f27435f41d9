"""Entry point of the `lever` command.

Start-up must stay fast (`lever --help` well under 80 ms), so this module and every command
module's `register` use only argparse; each command imports what it needs inside its `run`.

A command is a module in `lever.cli` with two functions:
    register(sub) -> argparse.ArgumentParser   adds its subparser (argparse only)
    run(args) -> int                           does the work; heavy imports go here
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from collections.abc import Sequence

from lever import __version__
from lever.cli.flags import LeverParser

#: Command name -> module under lever.cli, in the order `lever --help` lists them.
COMMANDS = {
    "exec": "exec_cmd",
    "demo": "demo_cmd",
    "models": "models",
    "resume": "resume_cmd",
    "fork": "fork_cmd",
    "review": "review_cmd",
    "app-server": "app_server_cmd",
    "mcp": "mcp_cmd",
    "mcp-server": "mcp_server_cmd",
    "prompt": "prompt_cmd",
    "local": "local_cmd",
    "sandbox": "sandbox_cmd",
    "sessions": "sessions_cmd",
    "skills": "skills_cmd",
    "fleet": "fleet_cmd",
    "eval": "eval_cmd",
    "serve": "serve_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = LeverParser(
        prog="lever",
        description="lever: a local, shell-native coding agent. It reads your code, runs commands "
        "and edits files with patches until the task is done.",
        epilog="`lever [PROMPT]` opens the interactive app. Start with `lever demo` (no model "
        "needed). Docs: README.md.",
    )
    parser.add_argument("--version", action="version", version=f"lever {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = importlib.import_module(f"lever.cli.{module}")
        command.register(sub).set_defaults(_module=module, _name=name)
    return parser


def _opens_app(argv: Sequence[str]) -> bool:
    """`lever`, `lever PROMPT…` and `lever --model M …` open the interactive app."""
    return not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"))


def _misspelled_command(argv: Sequence[str]) -> str | None:
    """The command a first word like `sesions` or `exce` was probably meant to be.

    Only a lone lowercase word counts: `lever "fix the bug"` and `lever fix the bug` are prompts.
    """
    word = argv[0] if argv else ""
    if not re.fullmatch(r"[a-z][a-z-]{2,}", word):
        return None
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.7)
    return close[0] if close else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if _opens_app(words):
        meant = _misspelled_command(words)
        if meant is not None:
            print(
                f"lever: error: unknown command {words[0]!r} — did you mean `lever {meant}`?",
                file=sys.stderr,
            )
            return 2
        from lever.cli import tui_cmd

        return tui_cmd.main(words)
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    # argparse cannot take positionals after options (`lever fork ID --at 5 "prompt"`); the
    # commands that want that get the leftover words, every other command refuses them.
    if extras:
        if not getattr(args, "_takes_extra_words", False) or extras[0].startswith("-"):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        args.words = [*args.words, *extras]
    if args.command is None:
        parser.print_help()
        return 0
    command = importlib.import_module(f"lever.cli.{args._module}")
    result: int = command.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
