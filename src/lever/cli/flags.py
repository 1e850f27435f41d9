"""Flags shared by the commands, their value checks, and lever's argument parser (argparse only:
imported at start-up)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, NoReturn

from lever.config.values import COMPACT_AT_ALLOWED, EFFORTS, parse_compact_at

PROVIDER_HELP = (
    "local (a small model on this machine: `lever local pull 1.5b`), a configured provider, a "
    "preset (openai, anthropic, openrouter, deepseek, gemini, ollama, lmstudio, vllm, llamacpp) "
    "or a wire protocol (openai-responses, openai-chat, anthropic)"
)


class LeverParser(argparse.ArgumentParser):
    """Usage errors in one line (the usage block would bury them); `--help` shows the rest."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def compact_at(text: str) -> str:
    try:
        parse_compact_at(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {COMPACT_AT_ALLOWED}, got {text!r}") from None
    return text


SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")


def add_policy_flags(
    group: argparse._ActionsContainer, *, sandbox_default: str, approval_default: str | None
) -> None:
    """`--sandbox MODE` and (unless `approval_default` is None) `-a POLICY`, with what each
    command does when they are not given."""
    group.add_argument(
        "--sandbox",
        metavar="MODE",
        choices=SANDBOX_MODES,
        help=f"{' | '.join(SANDBOX_MODES)} (default: {sandbox_default})",
    )
    if approval_default is not None:
        group.add_argument(
            "-a",
            "--ask-for-approval",
            metavar="POLICY",
            choices=APPROVAL_POLICIES,
            help=f"{' | '.join(APPROVAL_POLICIES)} (default: {approval_default})",
        )


def add_limit_flags(parser: argparse.ArgumentParser, timeout_default: str | None = None) -> None:
    parser.add_argument(
        "--max-turns", type=positive_int, metavar="N", help="stop after this many model requests"
    )
    parser.add_argument(
        "--max-tokens", type=positive_int, metavar="N", help="stop after this many tokens in total"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop after this wall time"
        + (f" (default: {timeout_default})" if timeout_default else ""),
    )


class ConfigFlag(argparse.Action):
    """A flag that stands for `-c KEY="VALUE"` (KEY is `const`), applied in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        overrides = list(getattr(namespace, self.dest, None) or [])
        overrides.append(f'{self.const}="{values}"')
        setattr(namespace, self.dest, overrides)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("-m", "--model", help="model name (default: the provider's default)")
    group.add_argument("--provider", help=PROVIDER_HELP)
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
    group.add_argument(
        "--reasoning-effort",
        choices=EFFORTS,
        action=ConfigFlag,
        dest="overrides",
        const="reasoning_effort",
        help="how hard a reasoning model thinks (same as -c reasoning_effort=...)",
    )


def stdio_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
