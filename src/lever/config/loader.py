"""Load, check and merge configuration files and `-c key=value` overrides.

Everything is checked (`lever.config.check`) before a session is built: a bad value in the
user's config.toml or in `-c` is a ConfigError naming the key, the value and what is allowed. A
repository's own `.lever/config.toml` is not the user's: it may only set the keys of
`PROJECT_ALLOWED`; anything else in it, and any bad value, is ignored with a warning.
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lever.config.providers import ConfigError
from lever.config.values import DEFAULT_MAX_TURNS, plain_model_name

Warn = Callable[[str], None]

#: What a repository's `.lever/config.toml` may set: a top-level key with any (checked) value
#: (None), or a table with only these keys. Nothing here can choose a program, where code is
#: sent, or widen what commands may do; limits may only be lowered.
PROJECT_ALLOWED: dict[str, frozenset[str] | None] = {
    "model": None,  # a plain name only: `--provider local` would serve a path as a GGUF
    "limits": frozenset({"max_turns", "max_tokens", "max_seconds"}),
    "compact_at": None,
    "memory": frozenset({"workspace"}),
    "stuck_detection": None,
    "shell_snapshot": None,  # only false: the snapshot runs the login shell outside the sandbox
    "tui": frozenset({"theme"}),
}
_PROJECT_ALLOWED_TEXT = (
    "a repository's config may set only model, limits (lower only), compact_at, "
    "memory.workspace, stuck_detection, shell_snapshot = false and tui.theme"
)
_warned: set[str] = set()


def lever_home() -> Path:
    return Path(os.environ.get("LEVER_HOME") or Path.home() / ".lever")


def warn_once(message: str) -> None:
    """A warning line on stderr, once per process (the config may be loaded several times)."""
    if message not in _warned:
        _warned.add(message)
        print(f"lever: warning: {message}", file=sys.stderr)


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """(text, data); ("", {}) when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        return "", {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"error: {path}: {e}") from e


def parse_override(text: str) -> dict[str, Any]:
    """`a.b=1` → {"a": {"b": 1}}; the value is read as TOML, or taken as a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"error: -c expects KEY=VALUE, got {text!r}")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    result: dict[str, Any] = {}
    node = result
    *parents, leaf = (part.strip() for part in key.strip().split("."))
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return result


def load_config(
    cwd: Path, overrides: Iterable[str] = (), profile: str | None = None, warn: Warn = warn_once
) -> dict[str, Any]:
    """User config, then the project's `.lever/config.toml`, then a profile, then `-c` flags."""
    from lever.config import check  # pydantic: loaded only when a configuration is

    path = lever_home() / "config.toml"
    text, data = _read_toml(path)
    config = check.check_file(path, text, data)
    _merge(config, project_settings(cwd / ".lever" / "config.toml", config, warn))
    profile = profile or config.get("profile")
    if profile:
        _merge(config, _profile(config, profile))
    for override in overrides:
        _merge(config, check.check_override(override, parse_override(override)))
    checked, problems = check.check(config)
    if problems:  # each part was checked: only a merge of odd shapes gets here
        raise ConfigError(f"error: the merged configuration: {problems[0]}")
    return checked


def load_unchecked(
    cwd: Path, overrides: Iterable[str] = (), profile: str | None = None
) -> dict[str, Any]:
    """The configuration merged as `load_config` does, but not checked and without pydantic: for
    display preferences read before the app's first frame (the session, built next, checks it).
    A value read from it must be checked by its reader; anything unreadable gives {}."""
    try:
        config = _read_toml(lever_home() / "config.toml")[1]
        project = _read_toml(cwd / ".lever" / "config.toml")[1]
        _merge(config, {k: v for k, v in project.items() if k in PROJECT_ALLOWED})
        chosen = profile or config.get("profile")
        if chosen:
            _merge(config, dict(config.get("profiles", {}).get(chosen, {})))
        for override in overrides:
            _merge(config, parse_override(override))
    except (ConfigError, AttributeError, TypeError, ValueError):
        return {}
    return config


def _profile(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    profiles: dict[str, Any] = config.get("profiles", {})
    if name in profiles:
        return dict(profiles[name])
    close = difflib.get_close_matches(name, list(profiles), n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    known = f" (profiles: {', '.join(profiles)})" if profiles else " (no [profiles.NAME] tables)"
    raise ConfigError(f"error: unknown profile {name!r}{hint}{known}")


def project_settings(path: Path, user: Mapping[str, Any], warn: Warn) -> dict[str, Any]:
    """What a repository's `.lever/config.toml` may set, each kept value checked; the rest is
    ignored with one warning per key."""
    from lever.config import check

    try:
        text, data = _read_toml(path)
    except ConfigError as e:
        warn(f"{str(e).removeprefix('error: ')} (the file is ignored)")
        return {}
    kept: dict[str, Any] = {}
    for key, value in data.items():
        entries = _project_entries(key, value)
        if entries is None:
            line = check.locate(text, (key,))
            warn(f"{_where(path, line)}: ignoring {key}: {_PROJECT_ALLOWED_TEXT}")
            continue
        for sub, sub_value in entries:
            dotted = f"{key}.{sub}" if sub else key
            why = _project_refusal(key, sub, sub_value, user)
            if why is None:
                part = {key: {sub: sub_value}} if sub else {key: sub_value}
                checked, problems = check.check(part)
                why = str(problems[0]) if problems else None
            if why is not None:
                line = check.locate(text, (key, sub) if sub else (key,))
                warn(f"{_where(path, line)}: ignoring {dotted}: {why}")
                continue
            _merge(kept, checked)
    return kept


def _project_entries(key: str, value: Any) -> list[tuple[str | None, Any]] | None:
    """The (sub key, value) pairs of an allowed key; None when the key is not allowed."""
    if key not in PROJECT_ALLOWED:
        return None
    subkeys = PROJECT_ALLOWED[key]
    if subkeys is None:
        return [(None, value)]
    if not isinstance(value, dict):
        return [(None, value)]  # the check reports "expected a table"
    return list(value.items())


def _project_refusal(key: str, sub: str | None, value: Any, user: Mapping[str, Any]) -> str | None:
    """Why a repository may not set this (allowed) key to this value; None when it may."""
    subkeys = PROJECT_ALLOWED[key]
    if sub is not None and subkeys is not None and sub not in subkeys:
        return _PROJECT_ALLOWED_TEXT
    if key == "shell_snapshot" and value is True:
        return "a repository's config may only turn the shell snapshot off"
    if key == "model" and isinstance(value, str) and not plain_model_name(value):
        return "a repository's config may only name a model, not a file"
    if key == "limits" and sub is not None and isinstance(value, int | float):
        limits = user.get("limits", {})
        mine = limits.get(sub, DEFAULT_MAX_TURNS if sub == "max_turns" else None)
        if mine is not None and value > mine:
            return f"a repository's config may only lower a limit (yours: {mine})"
    return None


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)
