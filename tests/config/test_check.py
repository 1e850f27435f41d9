"""The typed configuration: every key's allowed values, one-line messages, did-you-mean, lines."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lever.config.check import check, check_file, check_override, locate
from lever.config.loader import load_config, parse_override
from lever.config.providers import ConfigError
from lever.config.schema import APPROVAL_POLICIES, MECHANISMS, SANDBOX_MODES, WIRES
from lever.config.values import parse_compact_at


def _message(override: str) -> str:
    with pytest.raises(ConfigError) as info:
        check_override(override, parse_override(override))
    return str(info.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("limits.max_turns=abc", "error: -c limits.max_turns=abc: expected an integer ≥ 1"),
        ("limits.max_turns=true", "error: -c limits.max_turns=true: expected an integer ≥ 1"),
        ("limits.max_seconds=0", "error: -c limits.max_seconds=0: expected a number of seconds"),
        ("limits.max_turn=5", "unknown key limits.max_turn — did you mean limits.max_turns?"),
        ("max_turns=5", "unknown key max_turns — did you mean limits.max_turns?"),
        ("limts.max_turns=5", "unknown key limts — did you mean limits?"),
        ("sandbox.mode=wide", "expected read-only | workspace-write | danger-full-access"),
        ("sandbox.writable_roots=[1]", "sandbox.writable_roots[0] = 1: expected a list of paths"),
        ("sandbox=1", "error: -c sandbox=1: expected a table: [sandbox]"),
        ("providers.x.wire=grpc", "expected openai-responses | openai-chat | anthropic"),
        ("providers.x.context_window=0", "expected an integer ≥ 1 (tokens)"),
        ("mcp_servers.s.trust=always", "expected ask | trusted"),
        ("mcp_servers.s.cmd=x", "unknown key mcp_servers.s.cmd — did you mean mcp_servers.s.com"),
        ("local.ctx_size=100", "expected an integer ≥ 512"),
        ("shell_environment.set.A=true", "set.A=true: expected a table of NAME"),
        ("profiles.fast.limits={max_turns=0}", "profiles.fast.limits.max_turns = 0: expected"),
        ("zzz=1", "unknown key zzz (known keys in the top level: provider, model,"),
    ],
)
def test_override_problems_are_one_line(override: str, message: str) -> None:
    text = _message(override)
    assert message in text and "\n" not in text


def test_good_values_pass_and_numbers_are_names_where_names_are_wanted() -> None:
    data = {
        "model": 4,
        "compact_at": "60%",
        "limits": {"max_turns": 3, "max_seconds": 2},
        "sandbox": {"mode": "read-only", "writable_roots": ["a"], "network": False},
        "shell_environment": {"set": {"A": 1}, "include": ["X*"]},
        "providers": {"box": {"wire": "anthropic", "base_url": "http://h/v1"}},
        "mcp_servers": {"s": {"command": "x", "args": ["1"], "env": {"K": "v"}}},
        "profiles": {"fast": {"model": "m", "approval": "never"}},
    }
    checked, problems = check(data)
    assert problems == []
    assert checked["model"] == "4" and checked["shell_environment"]["set"] == {"A": "1"}
    assert checked["limits"] == {"max_turns": 3, "max_seconds": 2.0}
    assert checked["mcp_servers"] == {"s": {"command": "x", "args": ["1"], "env": {"K": "v"}}}


def test_enumerations_match_the_code_that_uses_them() -> None:
    from typing import get_args

    from lever.config.providers import WIRES as PROVIDER_WIRES
    from lever.config.schema import McpServerTable
    from lever.mcp.config import KEYS
    from lever.sandbox.approval import ApprovalPolicy
    from lever.sandbox.factory import MECHANISMS as FACTORY_MECHANISMS

    assert get_args(ApprovalPolicy) == APPROVAL_POLICIES
    assert WIRES == PROVIDER_WIRES and MECHANISMS == FACTORY_MECHANISMS
    assert SANDBOX_MODES == ("read-only", "workspace-write", "danger-full-access")
    assert set(McpServerTable.model_fields) == KEYS


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(5000, 5000), ("5000", 5000), ("60%", 0.6), (0.6, 0.6), ("0.5", 0.5)],
)
def test_compact_at_values(value: object, parsed: float) -> None:
    assert parse_compact_at(value) == parsed


@pytest.mark.parametrize("value", [0, -3, "0%", "100%", "150%", 1.5, "lots", True, [1]])
def test_compact_at_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        parse_compact_at(value)


FILE = """\
# lever
model = "m"

[limits]
max_turns = 10
"max_tokens" = 5

[profiles.fast]
limits = { max_turns = 0 }

[providers."my box"]
wire = "x"

[[weird]]
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("model",), 2),
        (("limits",), 4),
        (("limits", "max_turns"), 5),
        (("limits", "max_tokens"), 6),
        (("profiles", "fast", "limits", "max_turns"), 9),  # inside an inline table: its line
        (("providers", "my box", "wire"), 12),
        (("weird",), 14),
        (("nothing",), None),
    ],
)
def test_locate_finds_the_line_of_a_key(path: tuple[str, ...], line: int | None) -> None:
    assert locate(FILE, path) == line


def test_file_problems_name_the_file_and_the_line_of_the_first_one(tmp_path: Path) -> None:
    text = '[limits]\nmax_turns = "lots"\n\n[sandbox]\nmode = "wide"\n'
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        check_file(path, text, tomllib.loads(text.replace('"wide"', '"wide"')))
    assert str(info.value) == (
        f'error: {path}:2: limits.max_turns = "lots": expected an integer ≥ 1 (model requests '
        "per task)"
    )
    # The sandbox table comes first in the schema but later in the file: the file's order wins.
    text = '[sandbox]\nmode = "wide"\n[limits]\nmax_turn = 1\n'
    with pytest.raises(ConfigError, match=r"config\.toml:2: sandbox\.mode"):
        check_file(path, text, tomllib.loads(text))


def test_load_config_checks_the_user_file_and_each_override(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEVER_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("[limits]\nmax_turns = 0\n")
    with pytest.raises(ConfigError, match=r"config\.toml:2: limits\.max_turns = 0"):
        load_config(tmp_path)
    (tmp_path / "config.toml").write_text("[profiles.fast]\nmodel = 'm'\n")
    with pytest.raises(ConfigError, match=r"-c approval=sometimes: expected untrusted"):
        load_config(tmp_path, ["approval=sometimes"])
    with pytest.raises(ConfigError, match=r"unknown profile 'fsat' — did you mean 'fast'\?"):
        load_config(tmp_path, profile="fsat")
    assert load_config(tmp_path, ["limits.max_turns=3"], profile="fast") == {
        "limits": {"max_turns": 3},
        "profiles": {"fast": {"model": "m"}},
        "model": "m",
    }
