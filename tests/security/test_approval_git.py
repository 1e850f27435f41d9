"""Known-safe git commands run neutralised: a hostile configuration runs nothing (issue 14).

A real repository whose configuration names programs for `core.fsmonitor`, `diff.external`
and a textconv driver, with a `post-index-change` hook; a bare repository inside it (as a
hostile repository can commit one: HEAD, config, objects/ are ordinary files) and a nested
repository, configured the same. Each command first runs as written and starts the program (so
the test can fail), then as lever runs it and starts nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lever.sandbox.safe_commands import is_known_safe, neutralised_argv


def _git(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    home, markers, repo = tmp_path / "home", tmp_path / "markers", tmp_path / "repo"
    for folder in (home, markers, repo):
        folder.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    _git(repo, "init", "-q", "-b", "main", env=env)
    _git(repo, "config", "user.email", "a@example.com", env=env)
    _git(repo, "config", "user.name", "A", env=env)
    (repo / "f.txt").write_text("one\n")
    (repo / "g.md").write_text("same\n")
    (repo / ".gitattributes").write_text("*.txt diff=tc\n")
    _git(repo, "add", ".", env=env)
    _git(repo, "commit", "-q", "-m", "one", env=env)
    (repo / "f.txt").write_text("one\ntwo\n")
    _git(repo, "clone", "-q", "--bare", str(repo), str(repo / "sub"), env=env)
    (repo / "sub" / "info" / "attributes").write_text("*.txt diff=tc\n")
    _git(repo, "init", "-q", "nested", env=env)
    (repo / "nested" / "g.txt").write_text("x\n")
    configs = (repo / ".git" / "config", repo / "sub" / "config", repo / "nested/.git/config")
    for hooks in (repo / ".git" / "hooks", repo / "nested" / ".git" / "hooks"):
        hook = hooks / "post-index-change"
        hook.write_text(f"#!/bin/sh\ntouch {markers}/hook\n")
        hook.chmod(0o755)
    for config in configs:
        with config.open("a") as f:
            f.write(
                f"[core]\n\tfsmonitor = touch {markers}/fsmonitor; false\n"
                f"[diff]\n\texternal = touch {markers}/external; true\n"
                f'[diff "tc"]\n\ttextconv = touch {markers}/textconv; cat\n'
            )
    return repo, markers, env


CASES = [
    ("git status", "fsmonitor"),
    ("git diff -- g.md", "hook"),
    ("git diff", "external"),
    ("git diff HEAD -- f.txt", "external"),
    ("git log -p -1", "textconv"),
    ("git show HEAD", "textconv"),
    ("cd sub && git show HEAD", "textconv"),
    ("cd sub && git log -p -1", "textconv"),
    ("cd nested && git status", "fsmonitor"),
]


def _stale(path: Path, seconds: int) -> None:
    """Same content, another mtime: git refreshes the index entry and writes the index."""
    when = path.stat().st_mtime - seconds
    os.utime(path, (when, when))


@pytest.mark.parametrize(("command", "program"), CASES)
def test_neutralised_git_runs_no_configured_program(
    command: str, program: str, hostile: tuple[Path, Path, dict[str, str]]
) -> None:
    repo, markers, env = hostile
    assert is_known_safe(command)
    _stale(repo / "g.md", 1000)
    subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, timeout=30)
    assert (markers / program).exists(), "the hostile configuration should run as written"
    for marker in markers.iterdir():
        marker.unlink()
    argv = neutralised_argv(["bash", "-c", command])
    assert argv is not None
    _stale(repo / "g.md", 2000)
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=30)
    assert list(markers.iterdir()) == []
    if command.startswith("cd sub"):
        assert "safe.bareRepository" in done.stderr  # git refuses the implicit bare repository
    else:
        assert done.returncode == 0, done.stderr


def test_neutralised_git_still_answers(hostile: tuple[Path, Path, dict[str, str]]) -> None:
    repo, _, env = hostile
    argv = neutralised_argv("git diff && git log --oneline -1 && git status --short")
    assert argv is not None
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "+two" in done.stdout and " one\n" in done.stdout and " M f.txt" in done.stdout
