"""Load and merge configuration files and `-c key=value` overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lever.config.providers import ConfigError

#: Keys a repository's own `.lever/config.toml` may not set.
PROJECT_FORBIDDEN = (
    "providers",
    "provider",
    "sandbox",
    "approval",
    "shell_environment",
    "mcp_servers",
    "profile",
    "profiles",
    "compaction",
)


def lever_home() -> Path:
    return Path(os.environ.get("LEVER_HOME") or Path.home() / ".lever")


def _merge(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from e


def parse_override(text: str) -> dict[str, Any]:
    """`a.b=1` → {"a": {"b": 1}}; the value is read as TOML, or taken as a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"-c expects key=value, got {text!r}")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    result: dict[str, Any] = {}
    node = result
    *parents, leaf = key.strip().split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return result


def load_config(
    cwd: Path, overrides: Iterable[str] = (), profile: str | None = None
) -> dict[str, Any]:
    """User config, then the project's `.lever/config.toml`, then a profile, then `-c` flags."""
    config = _read_toml(lever_home() / "config.toml")
    project = _read_toml(cwd / ".lever" / "config.toml")
    # A repository must not be able to pick the provider (and so where code is sent), start
    # commands (MCP servers) or widen anything silently; it may only set harmless keys.
    # Profiles are refused too: a profile can set any of those keys.
    for key in PROJECT_FORBIDDEN:
        project.pop(key, None)
    _merge(config, project)
    profile = profile or config.get("profile")
    if profile:
        profiles = config.get("profiles", {})
        if profile not in profiles:
            raise ConfigError(f"unknown profile {profile!r}")
        _merge(config, profiles[profile])
    for text in overrides:
        _merge(config, parse_override(text))
    return config
