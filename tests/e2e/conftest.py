"""End-to-end helpers: run the installed `lever` command as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def lever_bin() -> str:
    found = shutil.which("lever")
    assert found, "the `lever` command is not installed (run through `uv run`)"
    return found


@pytest.fixture
def lever_home(tmp_path: Path) -> Path:
    home = tmp_path / "lever-home"
    home.mkdir()
    return home


@pytest.fixture
def clean_env(lever_home: Path) -> dict[str, str]:
    """The environment of a machine with no model configured: no provider keys at all."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("_API_KEY") and not name.startswith("LEVER_")
    }
    env["LEVER_HOME"] = str(lever_home)
    return env


@pytest.fixture
def math_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "mathrepo"
    shutil.copytree(FIXTURES / "mathrepo", repo)
    return repo


def run_lever(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [lever_bin(), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
