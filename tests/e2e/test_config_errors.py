"""Bad configuration, from flags, `-c` and config.toml, stops `lever` before anything starts.

Each case runs the installed command against a working fake model, so a configuration that got
through would start a session (the control case shows it does): every bad one must instead exit
2 with one line on stderr naming the key, the value and what is allowed — no traceback, no
session written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lever.testing.fake_model import FakeModelServer

from .conftest import run_lever

# (id, extra arguments, config.toml text or None, what the one line must contain)
CASES: list[tuple[str, list[str], str | None, list[str]]] = [
    ("max-turns-0", ["--max-turns", "0"], None, ["--max-turns", "integer ≥ 1", "'0'"]),
    ("max-turns-neg", ["--max-turns", "-1"], None, ["--max-turns", "integer ≥ 1", "'-1'"]),
    ("max-turns-word", ["--max-turns", "lots"], None, ["--max-turns", "'lots'"]),
    ("max-tokens-0", ["--max-tokens", "0"], None, ["--max-tokens", "integer ≥ 1"]),
    ("timeout-0", ["--timeout", "0"], None, ["--timeout", "seconds > 0"]),
    ("compact-at-150", ["--compact-at", "150%"], None, ["--compact-at", "0 < P < 100"]),
    (
        "c-max-turns-word",
        ["-c", "limits.max_turns=abc"],
        None,
        ["-c limits.max_turns=abc: expected an integer ≥ 1"],
    ),
    ("c-max-turns-0", ["-c", "limits.max_turns=0"], None, ["limits.max_turns=0", "≥ 1"]),
    (
        "c-typo",
        ["-c", "limits.max_turn=5"],
        None,
        ["unknown key limits.max_turn", "did you mean limits.max_turns?"],
    ),
    ("c-top-typo", ["-c", "modle=x"], None, ["unknown key modle", "did you mean model?"]),
    ("c-sandbox-mode", ["-c", "sandbox.mode=wide"], None, ["sandbox.mode=wide", "workspace-write"]),
    ("c-approval", ["-c", "approval=sometimes"], None, ["approval=sometimes", "on-request"]),
    ("c-compact-at", ["-c", "compact_at=1.5"], None, ["compact_at=1.5", "0 < x < 1"]),
    ("c-port", ["-c", "local.port=70000"], None, ["local.port=70000", "1-65535"]),
    ("c-temperature", ["-c", "local.temperature=-1"], None, ["local.temperature=-1", "0 to 2"]),
    ("c-mcp-args", ["-c", "mcp_servers.x.args=1"], None, ["mcp_servers.x.args", "list of strings"]),
    ("c-retries", ["-c", "retry.max_retries=-1"], None, ["retry.max_retries=-1", "≥ 0"]),
    ("c-not-key-value", ["-c", "limits.max_turns"], None, ["-c expects KEY=VALUE"]),
    ("unknown-profile", ["-p", "fsat"], "[profiles.fast]\nmodel = 'm'\n", ["did you mean 'fast'"]),
    (
        "file-string-for-int",
        [],
        '[limits]\nmax_turns = "lots"\n',
        ['config.toml:2: limits.max_turns = "lots": expected an integer ≥ 1'],
    ),
    (
        "file-key-in-wrong-table",
        [],
        'model = "m"\nmax_turns = 5\n',
        ["config.toml:2: unknown key max_turns", "did you mean limits.max_turns?"],
    ),
    (
        "file-bool",
        [],
        '[sandbox]\nmode = "read-only"\nnetwork = "yes"\n',
        ['config.toml:3: sandbox.network = "yes": expected true or false'],
    ),
    (
        "file-provider-wire",
        [],
        '[providers.box]\nbase_url = "http://127.0.0.1:1/v1"\nwire = "grpc"\n',
        ['config.toml:3: providers.box.wire = "grpc"', "openai-chat"],
    ),
    (
        "file-profile-value",
        [],
        "[profiles.fast.limits]\nmax_turns = 0\n",
        ["config.toml:2: profiles.fast.limits.max_turns = 0"],
    ),
    (
        "file-memory",
        [],
        '[memory]\nworkspace = "sometimes"\n',
        ['memory.workspace = "sometimes": expected auto | on | off'],
    ),
    ("file-syntax", [], "[limits\nmax_turns = 1\n", ["config.toml", "line 1"]),
]


def _sessions_started(home: Path) -> list[Path]:
    return [*home.glob("sessions/**/*.jsonl"), *home.glob("index.sqlite*")]


@pytest.fixture
def fake_model():
    with FakeModelServer([{"text": "done"}] * 3) as server:
        yield server


def _exec(server: FakeModelServer, extra: list[str], env: dict[str, str], cwd: Path):
    base = ["exec", "--provider", "openai-chat", "--base-url", server.base_url, "-m", "fake"]
    return run_lever(*base, *extra, "say done", env=env, cwd=cwd)


def test_a_good_configuration_starts_a_session(fake_model, clean_env, lever_home, tmp_path):
    """The control: what the bad cases change is the only reason no session starts."""
    (lever_home / "config.toml").write_text("[limits]\nmax_turns = 5\n")
    result = _exec(
        fake_model, ["-c", "limits.max_turns=3", "--max-turns", "2"], clean_env, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert _sessions_started(lever_home)


@pytest.mark.parametrize(
    ("extra", "toml", "wanted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_configuration_exits_2_with_one_line(
    extra, toml, wanted, fake_model, clean_env, lever_home, tmp_path
):
    if toml is not None:
        (lever_home / "config.toml").write_text(toml)
    result = _exec(fake_model, extra, clean_env, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for part in wanted:
        assert part in lines[0]
    assert not _sessions_started(lever_home)
    assert fake_model.requests == []


def test_mistyped_commands_get_did_you_mean(clean_env, tmp_path) -> None:
    for word, meant in (("sesions", "sessions"), ("exce", "exec"), ("reveiw", "review")):
        result = run_lever(word, env=clean_env, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr == (
            f"lever: error: unknown command '{word}' — did you mean `lever {meant}`?\n"
        )


def test_the_app_never_opens_without_a_terminal(clean_env, tmp_path, lever_home) -> None:
    for words in (["fix the bug"], ["fix", "the", "bug"], []):
        result = run_lever(*words, env=clean_env, cwd=tmp_path, stdin="", timeout=20)
        assert result.returncode == 2
        assert "needs a terminal" in result.stderr and "lever exec" in result.stderr
        assert result.stdout == ""
    assert not _sessions_started(lever_home)


def test_local_without_a_pulled_model_says_the_command(clean_env, lever_home, tmp_path) -> None:
    result = run_lever("exec", "--provider", "local", "task", env=clean_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "`lever local pull 1.5b" in result.stderr and "--yes" in result.stderr
    assert not _sessions_started(lever_home)


def test_no_model_guidance_names_the_local_model(clean_env, tmp_path) -> None:
    result = run_lever("exec", "task", env=clean_env, cwd=tmp_path)
    assert result.returncode == 2
    assert 'lever exec --provider local "task"' in result.stderr
    help_text = run_lever("exec", "--help", env=clean_env).stdout
    assert "--provider" in help_text and "local (a small model" in " ".join(help_text.split())


def test_models_lists_the_pulled_local_models(clean_env, lever_home, tmp_path) -> None:
    from lever.local.models import MODELS, model_path

    empty = run_lever("models", "--provider", "local", env=clean_env, cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "lever local pull 1.5b" in empty.stderr
    # A pulled model as `lever local pull` leaves it: the file at its pinned size (sparse here)
    # and the sha256 marker written after the check.
    model = MODELS["0.5b"]
    path = model_path(model, lever_home)
    path.parent.mkdir(parents=True)
    with path.open("wb") as f:
        f.truncate(model.size)
    path.with_name(path.name + ".ok").write_text(f"{model.sha256}  {path.name}\n")
    listed = run_lever("models", "--provider", "local", env=clean_env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["0.5b"]


def test_a_repository_config_cannot_choose_the_server_binary(
    clean_env, lever_home, tmp_path
) -> None:
    repo = tmp_path / "repo"
    marker = tmp_path / "ran"
    (repo / "tools").mkdir(parents=True)
    program = repo / "tools" / "x"
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    (repo / ".lever").mkdir()
    (repo / ".lever" / "config.toml").write_text(
        '[limits]\nmax_turns = 3\n\n[local]\nserver_bin = "tools/x"\n'
    )
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    env = {**clean_env, "PATH": os.defpath}  # no llama-server of this machine's to find
    result = run_lever(
        "exec", "--provider", "local", "-c", f'local.gguf="{gguf}"', "task", env=env, cwd=repo
    )
    assert not marker.exists(), "a repository's config ran a program"
    warning = f"lever: warning: {repo / '.lever' / 'config.toml'}:4: ignoring local: "
    assert warning in result.stderr
    assert result.returncode == 2 and "no llama-server binary found" in result.stderr
