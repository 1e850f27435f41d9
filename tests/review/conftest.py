"""Fixture repositories with a planted bug, built with real git in a temporary folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lever.testing.isolated_env import isolated_env, run_lever

__all__ = ["run_lever"]

BASE_CALC = '''def average(values):
    """Mean of values; 0 for an empty list."""
    if not values:
        return 0
    return sum(values) / len(values)


def clamp(x, low, high):
    return max(low, min(x, high))
'''

#: The feature branch's commit plants the bug on line 5: it divides by n - 1.
BUGGY_CALC = BASE_CALC.replace("/ len(values)", "/ (len(values) - 1)")

#: Uncommitted on top of the feature branch: a staged change, and an untracked module.
STAGED_CALC = BUGGY_CALC.replace("max(low, min(x, high))", "min(low, max(x, high))")
UNTRACKED = "from calc import average\n\n\ndef report(values):\n    return f'{average(values)}'\n"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def buggy_repo(tmp_path: Path) -> Path:
    """main: calc.py + README; branch `feature`: one commit with the bug; then uncommitted work
    (calc.py staged, report.py untracked)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text(BASE_CALC)
    (repo / "README.md").write_text("# calc\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Add calc")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "calc.py").write_text(BUGGY_CALC)
    git(repo, "commit", "-q", "-am", "Speed up average")
    (repo / "calc.py").write_text(STAGED_CALC)
    git(repo, "add", "calc.py")
    (repo / "report.py").write_text(UNTRACKED)
    return repo


@pytest.fixture
def review_env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)
