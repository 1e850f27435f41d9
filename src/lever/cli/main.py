"""Entry point of the `lever` command.

Start-up must stay fast (`lever --help` well under 80 ms), so this module imports only argparse;
each subcommand's module is imported when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lever import __version__
from lever.cli.exit_codes import HELP as EXIT_CODES_HELP


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("-m", "--model", help="model name (default: the provider's default)")
    group.add_argument(
        "--provider",
        help="a configured provider, a preset (openai, anthropic, openrouter, deepseek, gemini, "
        "ollama, lmstudio, vllm, llamacpp) or a wire protocol (openai-responses, openai-chat, "
        "anthropic)",
    )
    group.add_argument("--base-url", help="any compatible server, e.g. http://127.0.0.1:8080/v1")
    group.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the key")
    group.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (TOML syntax), e.g. -c limits.max_turns=50",
    )
    group.add_argument("-p", "--profile", help="a [profiles.NAME] table of config.toml")


def _add_exec(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
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
    p.add_argument("--max-turns", type=int, help="stop after this many model requests")
    p.add_argument("--max-tokens", type=int, help="stop after this many tokens in total")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this wall time")
    add_model_flags(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lever",
        description="lever: a local, shell-native coding agent. It reads your code, runs commands "
        "and edits files with patches until the task is done.",
        epilog="Start with `lever demo` (no model needed). Docs: README.md.",
    )
    parser.add_argument("--version", action="version", version=f"lever {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_exec(sub)
    demo = sub.add_parser(
        "demo",
        help="watch lever fix a bug in a sample project (scripted model, no key needed)",
        description="Copy a small sample project with a failing test into a temporary folder and "
        "run the real agent loop on it. The model's turns are scripted.",
    )
    demo.add_argument("--keep", action="store_true", help="keep the sample folder afterwards")
    demo.add_argument("--json", action="store_true", help="print the event stream as JSONL")
    sub.add_parser("prompt", help="print the system prompt lever sends to the model")
    models = sub.add_parser("models", help="list the models a provider serves")
    add_model_flags(models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "exec":
        from lever.cli.exec import run_exec

        return run_exec(args)
    if args.command == "demo":
        from lever.demo import run_demo

        return run_demo(keep=args.keep, json_events=args.json)
    if args.command == "prompt":
        from lever.agent.prompts import load_prompt

        sys.stdout.write(load_prompt("system"))
        return 0
    if args.command == "models":
        from lever.cli.models import run_models

        return run_models(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
