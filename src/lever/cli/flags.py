"""Flags shared by every command that talks to a model (argparse only: imported at start-up)."""

from __future__ import annotations

import argparse


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
