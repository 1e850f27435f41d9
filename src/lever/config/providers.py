"""Built-in provider presets and resolution of "which model do I talk to, and how".

A provider is a base URL, a wire protocol, the env var that holds its key, a default model and a
context window. Users add their own under `[providers.NAME]` in config.toml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

WIRES = ("openai-responses", "openai-chat", "anthropic")
#: Placeholder base URL of the `local` preset until its server is running.
LOCAL_BASE_URL = "http://127.0.0.1:0/v1"
#: Presets that are local servers, usually running small models: they get the text fallback
#: for tool calls (lever.models.text_tools).
SMALL_MODEL_SERVERS = ("local", "ollama", "lmstudio", "llamacpp", "vllm")


@dataclass(frozen=True)
class Provider:
    name: str
    wire: str
    base_url: str
    key_env: str | None = None
    model: str | None = None
    #: None: the model's window from `lever.agent.context_windows` (a hosted provider serves
    #: many models); set for a server whose own limit decides (lever's llama-server's n_ctx).
    context_window: int | None = None
    #: Local servers often need no key at all.
    needs_key: bool = True


PRESETS: dict[str, Provider] = {
    p.name: p
    for p in [
        Provider(
            "openai",
            "openai-responses",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            "gpt-5.1-codex",
        ),
        Provider(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com/v1",
            "ANTHROPIC_API_KEY",
            "claude-sonnet-4-5",
        ),
        Provider(
            "openrouter",
            "openai-chat",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            "qwen/qwen3-coder",
        ),
        Provider(
            "deepseek",
            "openai-chat",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            "deepseek-chat",
        ),
        Provider(
            "gemini",
            "openai-chat",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "GEMINI_API_KEY",
            "gemini-2.5-pro",
        ),
        Provider("ollama", "openai-chat", "http://127.0.0.1:11434/v1", None, None, None, False),
        Provider("lmstudio", "openai-chat", "http://127.0.0.1:1234/v1", None, None, None, False),
        Provider("vllm", "openai-chat", "http://127.0.0.1:8000/v1", None, None, None, False),
        Provider("llamacpp", "openai-chat", "http://127.0.0.1:8080/v1", None, None, None, False),
        # lever's own llama-server (`lever local`): the real port is filled in when it starts.
        Provider("local", "openai-chat", LOCAL_BASE_URL, None, "1.5b", 8192, False),
    ]
}

#: A bare wire name as --provider: talk that protocol to --base-url (default: the vendor's URL).
_WIRE_DEFAULTS = {
    "openai-responses": PRESETS["openai"],
    "openai-chat": replace(PRESETS["openai"], wire="openai-chat"),
    "anthropic": PRESETS["anthropic"],
}

CONFIGURE_HINT = """\
No model is configured. lever can talk to a model in four ways:
  1. A hosted API: set OPENAI_API_KEY (or ANTHROPIC_API_KEY, OPENROUTER_API_KEY, DEEPSEEK_API_KEY,
     GEMINI_API_KEY) and run again, or pick one with --provider NAME --model MODEL.
  2. A small model on this machine, offline and without a key (Qwen2.5-Coder 1.5B, ~1.1 GB):
     lever local pull 1.5b --server && lever exec --provider local "task"
  3. A local server speaking the OpenAI Chat Completions API (Ollama, llama.cpp, vLLM, LM Studio):
     lever exec --provider openai-chat --base-url http://127.0.0.1:8080/v1 --model NAME "task"
  4. No model at all: `lever demo` shows the whole flow with a scripted model.
Providers can also be set in $LEVER_HOME/config.toml (default ~/.lever/config.toml); see README."""


class ConfigError(Exception):
    """The configuration cannot name a usable model; the message says how to fix it."""


@dataclass(frozen=True)
class ResolvedModel:
    provider: Provider
    model: str
    api_key: str | None

    @property
    def context_window(self) -> int | None:
        return self.provider.context_window


def _provider_from_table(name: str, table: Mapping[str, Any]) -> Provider:
    # A table named like a preset adjusts that preset; any other name stands on its own.
    base = PRESETS.get(name)
    wire = str(table.get("wire") or (base.wire if base else ""))
    if wire not in WIRES:
        raise ConfigError(f"provider {name!r}: wire must be one of {', '.join(WIRES)}")
    base_url = table.get("base_url") or (base.base_url if base else None)
    if not base_url:
        raise ConfigError(f"provider {name!r}: base_url is missing")
    key_env = table.get("key_env", base.key_env if base else None)
    return Provider(
        name=name,
        wire=wire,
        base_url=str(base_url).rstrip("/"),
        key_env=key_env,
        model=table.get("model", base.model if base else None),
        context_window=table.get("context_window", base.context_window if base else None),
        needs_key=bool(table.get("needs_key", key_env is not None)),
    )


def find_provider(name: str, config: Mapping[str, Any]) -> Provider:
    tables = config.get("providers", {})
    if name in tables:
        return _provider_from_table(name, tables[name])
    if name in PRESETS:
        return PRESETS[name]
    if name in _WIRE_DEFAULTS:
        return replace(_WIRE_DEFAULTS[name], name=name)
    import difflib

    known = sorted({*PRESETS, *_WIRE_DEFAULTS, *tables})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"error: unknown provider {name!r}{hint} (known: {', '.join(known)})")


def _autodetect(env: Mapping[str, str]) -> str | None:
    for name in ("openai", "anthropic", "openrouter", "deepseek", "gemini"):
        key_env = PRESETS[name].key_env
        if key_env and env.get(key_env):
            return name
    return None


def resolve_model(
    config: Mapping[str, Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedModel:
    """Combine flags, config and environment into the one model this run talks to."""
    env = os.environ if env is None else env
    name = provider or config.get("provider")
    if not name and base_url:
        name = "openai-chat"  # any compatible server is the most common --base-url case
    if not name:
        name = _autodetect(env)
    if not name:
        raise ConfigError(CONFIGURE_HINT)
    chosen = find_provider(str(name), config)
    if base_url:
        # A custom server usually needs no key unless one is named.
        chosen = replace(chosen, base_url=base_url.rstrip("/"), needs_key=bool(api_key_env))
    if api_key_env:
        chosen = replace(chosen, key_env=api_key_env, needs_key=True)
    api_key = env.get(chosen.key_env) if chosen.key_env else None
    if chosen.needs_key and not api_key:
        raise ConfigError(
            f"provider {chosen.name!r} needs an API key in ${chosen.key_env}, which is not set.\n\n"
            + CONFIGURE_HINT
        )
    chosen_model = model or config.get("model") or chosen.model
    if not chosen_model:
        raise ConfigError(
            f"provider {chosen.name!r} has no default model: pass --model NAME "
            "(`lever models` lists what the server offers)."
        )
    window = config.get("context_window")
    if window:
        chosen = replace(chosen, context_window=int(window))
    return ResolvedModel(chosen, str(chosen_model), api_key)
